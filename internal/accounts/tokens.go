package accounts

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"math/big"
)

const (
	alphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	upper        = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// newAccessToken makes a token in Synapse's shape, "syt_<localpart>_<random>_<crc>",
// so secret scanners recognise leaked Matrix tokens, and returns it with the
// SHA-256 digest that is all the database keeps: a leaked database then
// holds no usable token.
func newAccessToken(localpart string) (token string, digest []byte, err error) {
	return newToken("syt_", localpart)
}

// newRefreshToken makes a refresh token, "syr_<localpart>_<random>_<crc>",
// as Synapse does.
func newRefreshToken(localpart string) (token string, digest []byte, err error) {
	return newToken("syr_", localpart)
}

// newLoginToken makes an m.login.token token, "syl_<localpart>_<random>_<crc>".
func newLoginToken(localpart string) (token string, digest []byte, err error) {
	return newToken("syl_", localpart)
}

func newToken(prefix, localpart string) (token string, digest []byte, err error) {
	random, err := randomString(alphanumeric, 20)
	if err != nil {
		return "", nil, err
	}
	base := prefix + base64.RawURLEncoding.EncodeToString([]byte(localpart)) + "_" + random
	token = base + "_" + base62(crc32.ChecksumIEEE([]byte(base)), 6)
	return token, HashToken(token), nil
}

// HashToken is the digest under which an access token is stored and looked up.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// newDeviceID makes a device ID like Synapse's: ten upper-case letters.
func newDeviceID() (string, error) { return randomString(upper, 10) }

func randomString(alphabet string, n int) (string, error) {
	out := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range out {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("random: %w", err)
		}
		out[i] = alphabet[k.Int64()]
	}
	return string(out), nil
}

func base62(v uint32, width int) string {
	out := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		out[i] = alphanumeric[v%62]
		v /= 62
	}
	return string(out)
}
