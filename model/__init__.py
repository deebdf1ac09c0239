"""The executable model of the mailbox: layout, memory models, protocol variants, properties, explicit checker."""
