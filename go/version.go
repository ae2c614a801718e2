package polymongo

// How the package finds and links libpolymongo is in link_shared.go (the default: the shared
// library, through pkg-config) and link_static.go (-tags static: libpolymongo.a).

/*
#include <polymongo.h>

// polymongo/version.h (PM_VERSION_MAJOR, _MINOR, _PATCH) and pm_check_version() are what the
// run-time check below uses; a header without them is too old for this binding. Said here, at
// compile time, instead of by missing symbols at link time.
#if !defined(PM_VERSION_MAJOR) || !defined(PM_VERSION_MINOR) || !defined(PM_VERSION_PATCH)
#error "polymongo: this polymongo.h has no polymongo/version.h: the Go binding needs a newer libpolymongo (check `pkg-config --modversion polymongo`)"
#endif
*/
import "C"

import (
	"fmt"
	"sync"
)

// HeaderVersion is the C API version this package was compiled against (0xMMmmpp).
const HeaderVersion = int(C.PM_VERSION_NUM)

// HeaderVersionString is HeaderVersion as "major.minor.patch" (PM_VERSION_STRING).
const HeaderVersionString = C.PM_VERSION_STRING

// Version is the version string of the libpolymongo actually loaded (pm_version()).
func Version() string { return C.GoString(C.pm_version()) }

// VersionNum is the version of the libpolymongo actually loaded, as 0xMMmmpp.
func VersionNum() int { return int(C.pm_version_num()) }

// checkVersion asks the loaded library, once, whether it can serve a program compiled against
// this package's header: pm_check_version(PM_VERSION_MAJOR, PM_VERSION_MINOR, PM_VERSION_PATCH),
// the C API's one compatibility policy (same major; before 1.0 the same minor; a patch level at
// least the header's). New and NewContext fail with this error when it says no.
var checkVersion = sync.OnceValue(func() error {
	if C.pm_check_version(C.PM_VERSION_MAJOR, C.PM_VERSION_MINOR, C.PM_VERSION_PATCH) == 0 {
		return &Error{Code: CodeNotSupported, Message: fmt.Sprintf(
			"libpolymongo %s is loaded, but this binding was built against polymongo.h %s "+
				"(pm_check_version refused it: a library of the same major and, before 1.0, "+
				"the same minor version is needed)", Version(), HeaderVersionString)}
	}
	return nil
})
