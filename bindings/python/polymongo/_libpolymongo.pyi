# Type stub for the cffi-generated extension module (its contents come from polymongo.h).
from typing import Any, Callable, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

class _FFI:
    # @ffi.def_extern() returns the function it decorates (cffi registers it for C to call).
    def def_extern(self, name: str = ..., error: Any = ..., onerror: Any = ...) -> Callable[[_F], _F]: ...
    def __getattr__(self, name: str) -> Any: ...

ffi: _FFI
lib: Any
