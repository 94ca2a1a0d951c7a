"""The risk desk: a provider toolset reading every venue of the caller's environment, and the gates built on it."""
