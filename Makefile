# Conveniences over dev.py, which needs nothing but python3.
.PHONY: demo test install
demo:
	python3 dev.py demo
test:
	python3 dev.py test
install:
	python3 dev.py install
