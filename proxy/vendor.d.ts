// Types for the two htpasswd hash packages that ship none (both by the author of http-auth).
declare module 'apache-md5' {
  /** Apache's `$apr1$` MD5 crypt: with a stored hash as the salt, the hash of `password` under it. */
  function md5(password: string, salt?: string): string;
  export default md5;
}

declare module 'apache-crypt' {
  /** Traditional DES crypt(3): with a stored hash as the salt, the hash of `password` under it. */
  function crypt(password: string, salt?: string): string;
  export default crypt;
}
