//go:build !cgo

package polymongo

// polymongo is a cgo binding of the C library libpolymongo: without cgo none of it exists, and
// every other file of the package is left out (they are `//go:build cgo` or import "C"). This
// one declaration then fails, naming what to do, instead of a list of undefined names:
//
//	undefined: polymongo_requires_cgo__set_CGO_ENABLED_1_and_install_a_C_compiler_and_libpolymongo
//
// (go build, go vet, go test; CGO_ENABLED=0 is the default when cross-compiling or when no C
// compiler is found.)
var _ = polymongo_requires_cgo__set_CGO_ENABLED_1_and_install_a_C_compiler_and_libpolymongo
