// Command ferretdb-test-server runs FerretDB v1.24.2 (SQLite backend, or PostgreSQL with
// -postgresql-url, for benchmarks that need more databases than SQLite's open files allow) through its embeddable
// package, for polymongo's tests and benchmarks. It exists because the module's own main package
// refuses to start when built outside FerretDB's repository (its generated version file is not
// in the module zip); the embeddable package has no such check.
//
// It listens on loopback only, writes the MongoDB URI to -uri-file once it accepts connections,
// and runs until it receives SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on (port 0 picks a free one)")
	dataDir := flag.String("data", "", "directory for the SQLite files (created if missing)")
	uriFile := flag.String("uri-file", "", "file to write the MongoDB URI to once the server is ready")
	pgURL := flag.String("postgresql-url", "", "use the PostgreSQL backend at this URL instead of SQLite")
	flag.Parse()

	if *dataDir == "" {
		log.Fatal("-data is required")
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("-listen must be a loopback address, got %q", *listen)
	}
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}

	// Pick the port ourselves so the URI is known before Run, and a restart can reuse it.
	addr := *listen
	if _, port, _ := net.SplitHostPort(addr); port == "0" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		addr = l.Addr().String()
		l.Close()
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	config := ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	}
	if *pgURL != "" {
		config.Handler, config.SQLiteURL, config.PostgreSQLURL = "postgresql", "", *pgURL
	}
	f, err := ferretdb.New(&config)
	if err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()

	uri := fmt.Sprintf("mongodb://%s/", addr)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log.Fatalf("server did not start listening on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if *uriFile != "" {
		tmp := *uriFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(uri+"\n"), 0o644); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(tmp, *uriFile); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(uri)
	<-done
}
