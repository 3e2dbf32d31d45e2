"""Identity and keys, the creativity record, C2PA content credentials."""
