"""The queries every signed-in request (staff or parent) makes before the page does any work of its own.

One: the user, loaded together with their roles, second factor and whether a policy awaits them
(staff.backends). The session is read from the cache (cached_db sessions), the session-activity row
and the idle stamp are written at most once a minute, and the first request after signing in makes
them, so pinned counts are taken from the second request on.
"""

SIGNED_IN_REQUEST_QUERIES = 1
STAFF_REQUEST_QUERIES = SIGNED_IN_REQUEST_QUERIES
