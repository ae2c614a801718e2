# Type stub for the cffi-generated extension module (its contents come from polymongo.h).
from typing import Any

ffi: Any
lib: Any
