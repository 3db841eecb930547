/** True when A and B are assignable both ways and have the same keys: a renamed or retyped field makes it false. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type SameObject<A, B> = Same<A, B> extends true ? Same<keyof A, keyof B> : false;

/**
 * True when two unions discriminated by `type` have the same members, each the same object: how a zod schema is
 * held to the plain type of the wire vocabulary it checks.
 */
export type SameUnion<A extends { type: string }, B extends { type: string }> =
  Same<A['type'], B['type']> extends true
    ? false extends { [T in A['type']]: SameObject<Extract<A, { type: T }>, Extract<B, { type: T }>> }[A['type']]
      ? false
      : true
    : false;

export type SameShape<A, B> = SameObject<A, B>;
