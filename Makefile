# Thin wrapper over CMake: `make all` builds and leaves ./memory_coordinator
# here, as the classic interface expects. `make check` runs the tests.
BUILD ?= build
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all check unit clean

all:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)
	cp $(BUILD)/memory_coordinator ./memory_coordinator

check: all
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

unit: all
	ctest --test-dir $(BUILD) --output-on-failure -L 'unit|sim' -j $(JOBS)

clean:
	rm -rf $(BUILD) ./memory_coordinator
