"""The queries every signed-in request (staff or parent) makes before the page does any work of its own.

Two: the session (database sessions, so a Redis outage signs nobody out), and the user, loaded together
with their roles, second factor and whether a policy awaits them (staff.backends). The session-activity
row and the idle stamp are written at most once a minute, and the first request after signing in makes
them, so pinned counts are taken from the second request on.
"""

SIGNED_IN_REQUEST_QUERIES = 2
STAFF_REQUEST_QUERIES = SIGNED_IN_REQUEST_QUERIES
