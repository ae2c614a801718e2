//go:build cgo && static

package polymongo

// -tags static: libpolymongo.a, linked into the program, so that it runs without
// libpolymongo.so. pkg-config --static adds what the archive needs (Requires.private and
// Libs.private: libmongoc, libbson, cJSON, spdlog, fmt, libstdc++), linked as usual (shared).
//
// pkg-config's own -lpolymongo would pick libpolymongo.so, which sits next to the archive. cgo
// puts these LDFLAGS before pkg-config's, so -l:libpolymongo.a (searched in pkg-config's -L
// directory) defines every pm_* symbol first, and --as-needed drops the then useless
// libpolymongo.so from the program's dependencies. PM_STATIC: the header's PM_EXTERN for a
// static library (it matters on Windows).

/*
#cgo pkg-config: --static polymongo
#cgo LDFLAGS: -l:libpolymongo.a -Wl,--as-needed
#cgo CPPFLAGS: -DPM_STATIC
*/
import "C"
