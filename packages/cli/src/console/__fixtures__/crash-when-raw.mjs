// Preloaded into a real `vkc` process by console-tmux.test.ts (node --import): once vkc has put
// the terminal in raw mode, an uncaught exception is thrown from a timer — a crash, the one exit
// path no error handler of vkc's sees. The terminal must still come back as it was.
const timer = setInterval(() => {
  if (process.stdin.isRaw === true) {
    clearInterval(timer);
    setTimeout(() => {
      throw new Error("simulated crash while attached");
    }, 200);
  }
}, 50);
timer.unref();
