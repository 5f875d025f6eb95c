"""PyTorch's device-generic machinery (instantiate_device_type_tests, PrivateUse1TestBase, the `ops`
decorator over op_db) picks its device bases when torch.testing._internal.common_device_type is
first imported: deeplink must be imported before it, here."""
import deeplink  # noqa: F401  (registers the deeplink device before common_device_type is imported)
import torch.testing._internal.common_device_type  # noqa: F401,E402
