# The two commands a newcomer needs; both install what they need first.
.PHONY: run test
run:   ## serve a demo clinic on SQLite at http://127.0.0.1:8000 (cicatrix serve --demo)
	scripts/run.sh
test:  ## lint, type-check and run the whole test suite
	scripts/test.sh
