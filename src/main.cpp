#include "clusterd/cli/cli.hpp"

int main(int argc, char** argv) {
    return clusterd::cli::run(argc, argv);
}
