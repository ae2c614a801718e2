//go:build cgo && !static

package polymongo

// The default: libpolymongo.so, found by pkg-config (an installed polymongo.pc, or a build
// tree's pkgconfig-uninstalled/polymongo.pc through PKG_CONFIG_PATH). The installed .pc carries
// no run path: a program linked against a prefix the dynamic loader does not search needs one
// (CGO_LDFLAGS="-Wl,-rpath,$PREFIX/lib", see README.md), or -tags static.

/*
#cgo pkg-config: polymongo
*/
import "C"
