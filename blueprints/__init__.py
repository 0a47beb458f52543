"""One package per area: routes + forms, thin (parse, call an operation, render)."""
