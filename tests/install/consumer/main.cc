// Parses and resolves a config with an installed embrt; prints the table order.
#include <iostream>

#include "embrt/config.h"

int main() {
  absl::StatusOr<embrt::EmbeddingConfig> config = embrt::ParseConfigText(R"pb(
    tables { name: "user" vocabulary_size: 16 dim: 2 }
    tables { name: "video" vocabulary_size: 8 dim: 4 combiner: SUM }
    features { name: "watched" table: "video" }
    features { name: "friends" table: "user" }
  )pb");
  if (!config.ok()) {
    std::cerr << config.status() << "\n";
    return 1;
  }
  absl::StatusOr<embrt::ResolvedConfig> resolved = embrt::ResolveConfig(*config);
  if (!resolved.ok()) {
    std::cerr << resolved.status() << "\n";
    return 1;
  }
  std::cout << "tables:";
  for (const embrt::ResolvedTable& table : resolved->tables) std::cout << " " << table.name;
  std::cout << "\n";
  return 0;
}
