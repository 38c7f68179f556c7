"""Tools that make, convert, count and cache Florenz model folders (not part of the Hub remote code)."""
