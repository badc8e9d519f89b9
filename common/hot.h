/*
 * hot.h - CM_HOT: a function that is inlined whole wherever it is called.
 *
 * For the small steps of loops that run per span or per attribute (the
 * SDK's setters, the store's block encoder and symbol lookups), where a
 * call's register saves cost as much as the step itself and gcc's own
 * judgement leaves some of them out of line.
 */
#ifndef WEFT_COMMON_HOT_H
#define WEFT_COMMON_HOT_H

#define CM_HOT static inline __attribute__((always_inline))

#endif
