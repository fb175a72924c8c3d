"""The inbox: messages and comments from Meta or typed in, each answered within the policy's week, and takedowns of what identifies a family."""
