package polymongo

/*
#cgo pkg-config: polymongo
#include <polymongo.h>

// The oldest C API this binding is written against. Building against an older header fails
// here, at compile time, instead of with missing symbols at link time.
#define PM_GO_MIN_VERSION_NUM 0x000200
#if !defined(PM_VERSION_NUM) || PM_VERSION_NUM < PM_GO_MIN_VERSION_NUM
#error "polymongo: the Go binding needs polymongo.h >= 0.2.0 (sessions)"
#endif
*/
import "C"

import (
	"fmt"
	"sync"
)

// HeaderVersion is the C API version this package was compiled against (0xMMmmpp).
const HeaderVersion = int(C.PM_VERSION_NUM)

// Version is the version string of the libpolymongo actually loaded, e.g. "0.2.0".
func Version() string { return C.GoString(C.pm_version()) }

// VersionNum is the version of the libpolymongo actually loaded, as 0xMMmmpp.
func VersionNum() int { return int(C.pm_version_num()) }

// checkVersion verifies once, at run time, that the loaded library can serve the header this
// package was compiled against: the same major version, and not older.
var checkVersion = sync.OnceValue(func() error {
	loaded, built := VersionNum(), HeaderVersion
	if loaded>>16 != built>>16 || loaded < built {
		return &Error{Code: CodeNotSupported, Message: fmt.Sprintf(
			"libpolymongo %s (0x%06x) is loaded, but this binding was built against 0x%06x",
			Version(), loaded, built)}
	}
	return nil
})
