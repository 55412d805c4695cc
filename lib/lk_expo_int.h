/* lk_expo_int.h — shared between the lk_expo*.c files only. */
#ifndef LK_EXPO_INT_H
#define LK_EXPO_INT_H

/* Exposition keyword of an LK_EXPO_* type ("untyped" for unknown codes). */
const char *lk__expo_type_name(int type);

#endif
