/* lk_pair.h — run two halves of one job, the second on its own thread.
 *
 * Query paths (tsdb selects, PromQL range functions, rollup answers) split
 * large work in two shares for the machine's cores. lk_run_pair runs
 * fn(first) on the calling thread and fn(second) on a new thread, joined
 * before it returns; when no thread can be started, fn(second) runs after
 * fn(first). The shares must not share what they write: the caller owns
 * both and reads them only after the call.
 */
#ifndef LK_PAIR_H
#define LK_PAIR_H

#include <pthread.h>
#include <stdbool.h>

static inline void lk_run_pair(void *(*fn)(void *), void *first, void *second)
{
  pthread_t th;
  bool threaded = pthread_create(&th, NULL, fn, second) == 0;
  fn(first);
  if (threaded)
    pthread_join(th, NULL);
  else
    fn(second);
}

#endif
