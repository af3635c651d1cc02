# C-level entry of tasktonic._core.copy, for the compiled loop's cross-thread path:
#     from tasktonic._core.copy cimport _copy_call
cdef object _copy_call(tuple args, dict kwargs)
