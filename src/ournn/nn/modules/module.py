from ..module import (Module, Parameter, RemovableHandle,  # noqa: F401
                      register_module_forward_hook, register_module_forward_pre_hook,
                      register_module_full_backward_hook,
                      register_module_full_backward_pre_hook)
