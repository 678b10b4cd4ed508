/*
 * hello — prints a greeting and its arguments, exits 0.
 * argv[0] is shown as its basename without ".elf", so the output does not depend
 * on where the launcher keeps the file.
 */
#include "vkc.h"

int main(int argc, char **argv, char **envp) {
  const char *name = argc > 0 ? argv[0] : "";
  const char *slash = strrchr(name, '/');
  if (slash != NULL) name = slash + 1;
  size_t len = strlen(name);
  if (len > 4 && strcmp(name + len - 4, ".elf") == 0) len -= 4;

  printf("Hello from a vkc guest!\n");
  printf("program: %.*s\n", (int)len, name);
  printf("argc: %d\n", argc);
  for (int i = 1; i < argc; i++) printf("argv[%d]: \"%s\" (%u bytes)\n", i, argv[i], (unsigned)strlen(argv[i]));
  return 0;
}
