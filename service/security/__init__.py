"""HTTP protections that are not about who the caller is: response headers and CORS, request size
limits, and the per-key rate limit on suggestions."""
