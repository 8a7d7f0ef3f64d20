# Thin aliases for the xtask commands; pass more with ARGS, e.g. `make qemu ARGS="--el2 --gic 3"`.
.PHONY: qemu test gdb bench trace
qemu:
	cargo xtask qemu $(ARGS)
test:
	cargo xtask test $(ARGS)
gdb:
	cargo xtask gdb $(ARGS)
bench:
	cargo xtask bench $(ARGS)
trace:
	cargo xtask trace $(ARGS)
