"""The http edge: what every route needs from HTTP (the request's unit of work, access rules and
authentication, problem+json, security headers, JSON input and logs). It imports only ``core``;
the domains' routes import it, and the composition root (``api``) installs it."""
