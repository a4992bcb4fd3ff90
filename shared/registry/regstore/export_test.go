package regstore

// DBOf and TableOf let tests build a store over a wrapped client of another store's table.
func DBOf(s *Store) DB { return s.db }

func TableOf(s *Store) string { return s.table }
