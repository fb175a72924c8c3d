"""The post queue: staff draft status updates, the policy checks run, another administrator approves, and the post is published and, if need be, taken down."""
