package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// prompter asks questions on the terminal the way Python's input() and
// getpass() do: secrets are read with echo off when stdin is a terminal.
type prompter struct {
	env Env
	in  *bufio.Reader
}

func newPrompter(env Env) *prompter {
	return &prompter{env: env, in: bufio.NewReader(env.Stdin)}
}

func (p *prompter) ask(question string) (string, error) {
	fmt.Fprint(p.env.Stdout, question)
	line, err := p.in.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("read answer: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (p *prompter) askSecret(question string) (string, error) {
	f, isFile := p.env.Stdin.(*os.File)
	if !isFile || !isTerminal(f) {
		return p.ask(question)
	}
	restore, err := disableEcho(f)
	if err != nil {
		return "", err
	}
	answer, err := p.ask(question)
	restore()
	fmt.Fprintln(p.env.Stdout)
	return answer, err
}

// askNewPassword asks twice, as Synapse's tools do.
func (p *prompter) askNewPassword() (string, error) {
	pw, err := p.askSecret("Password: ")
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", fmt.Errorf("password cannot be blank")
	}
	confirm, err := p.askSecret("Confirm password: ")
	if err != nil {
		return "", err
	}
	if pw != confirm {
		return "", fmt.Errorf("passwords do not match")
	}
	return pw, nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func disableEcho(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("read terminal settings: %w", err)
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return nil, fmt.Errorf("turn off echo: %w", err)
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
