# The two commands a newcomer needs; both install what they need first.
.PHONY: run test
run:   ## serve the clinic app with a demo clinic on SQLite (http://127.0.0.1:8000)
	scripts/run.sh
test:  ## lint, type-check and run the whole test suite
	scripts/test.sh
