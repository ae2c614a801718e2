package polymongo

import (
	"context"
	"testing"
	"time"
)

func TestExplainRoutePauseAndResume(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, func(o *Options) { o.Routes = []Route{{Match: "goadm_*"}} })
	r, err := c.ExplainRoute(ctx, "goadm_1")
	if err != nil || r.Reason != "rule" || r.Rule == nil || *r.Rule != "goadm_*" || r.Pool != "goadm_1" {
		t.Fatalf("ExplainRoute(goadm_1) = %+v, %v", r, err)
	}
	if s, err := c.ExplainRoute(ctx, "other_1"); err != nil || s.Reason != "shared" || s.Pool != "shared" {
		t.Fatalf("ExplainRoute(other_1) = %+v, %v", s, err)
	}
	name := uniqueDB("adm")
	if ok, err := c.Pause(ctx, name); !ok || err != nil {
		t.Fatalf("Pause = %v, %v", ok, err)
	}
	if ok, err := c.Pause(ctx, name); ok || err != nil {
		t.Fatalf("second Pause = %v, %v", ok, err)
	}
	if p, _ := c.ExplainRoute(ctx, name); !p.Paused {
		t.Fatalf("ExplainRoute of a paused database: %+v", p)
	}
	if ok, err := c.Resume(ctx, name); !ok || err != nil {
		t.Fatalf("Resume = %v, %v", ok, err)
	}
	if ok, err := c.Resume(ctx, name); ok || err != nil {
		t.Fatalf("second Resume = %v, %v", ok, err)
	}
	if err := c.ReloadRoutes(ctx, []Route{{Match: "goother_*", SharedPool: true}}); err != nil {
		t.Fatalf("ReloadRoutes: %v", err)
	}
	if r, err := c.ExplainRoute(ctx, "goother_1"); err != nil || r.Pool != "goother_*" {
		t.Fatalf("after reload: %+v, %v", r, err)
	}
	if err := c.DrainPool(ctx, "shared", 2*time.Second); err != nil {
		t.Fatalf("DrainPool: %v", err)
	}
	if u, err := c.AdminURL(ctx); u != "" || err != nil {
		t.Fatalf("AdminURL = %q, %v", u, err)
	}
}
