package accounts

import "testing"

// A lookup that started before a revocation must not cache the token
// after the revocation has cleared it.
func TestTokenCacheRefusesStalePut(t *testing.T) {
	c := newTokenCache()
	_, _, gen := c.get("k")         // a lookup begins
	c.forget([][]byte{[]byte("k")}) // a revocation completes meanwhile
	c.put("k", tokenOwner{UserID: "@a:x"}, gen)
	if _, ok, _ := c.get("k"); ok {
		t.Fatal("revoked token cached by a racing lookup")
	}
	_, _, gen = c.get("k")
	c.put("k", tokenOwner{UserID: "@a:x"}, gen)
	if _, ok, _ := c.get("k"); !ok {
		t.Fatal("token not cached without a race")
	}
}
