"""The CANN binding: finding and loading the libraries, ctypes prototypes, aclnn call objects."""
