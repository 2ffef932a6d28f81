package service

import (
	"errors"
	"fmt"
)

// SunoAccount is one Suno account as the worker uses it: its rate window
// and breaker (Account), and the client that speaks with its key.
type SunoAccount struct {
	Name    string
	Account Account
	Suno    Suno
}

// TaskAccount is what Suno's callbacks use of an account: the look-up of
// the tasks it submitted.
type TaskAccount struct {
	Name  string
	Tasks TaskReader
}

// SweptAccount is what the sweeper uses of an account: the look-up of its
// tasks, its credits, and its breaker, where the credits read are kept.
type SweptAccount struct {
	Name     string
	Suno     SweptSuno
	Breakers Breakers
}

// SweptSuno is what the sweeper asks of Suno.
type SweptSuno interface {
	TaskReader
	CreditReader
}

// TaskAccountsOf are accounts as the callbacks use them.
func TaskAccountsOf(list []SunoAccount) []TaskAccount {
	out := make([]TaskAccount, len(list))
	for i, a := range list {
		out[i] = TaskAccount{Name: a.Name, Tasks: a.Suno}
	}
	return out
}

// SweptAccountsOf are accounts as the sweeper uses them.
func SweptAccountsOf(list []SunoAccount) []SweptAccount {
	out := make([]SweptAccount, len(list))
	for i, a := range list {
		out[i] = SweptAccount{Name: a.Name, Suno: a.Suno, Breakers: a.Account}
	}
	return out
}

func (a SunoAccount) accountName() string  { return a.Name }
func (a SunoAccount) complete() bool       { return a.Account != nil && a.Suno != nil }
func (a TaskAccount) accountName() string  { return a.Name }
func (a TaskAccount) complete() bool       { return a.Tasks != nil }
func (a SweptAccount) accountName() string { return a.Name }
func (a SweptAccount) complete() bool      { return a.Suno != nil && a.Breakers != nil }

// account is what a role holds of one Suno account.
type account interface {
	accountName() string
	complete() bool
}

// accounts are the Suno accounts songs are spread over (DESIGN.md section
// 14), in the order they were configured, as one role uses them. A task's
// later calls go to the account that submitted it (Generation.Account).
type accounts[A account] struct {
	list   []A
	byName map[string]int
}

var errNoAccounts = errors.New("no Suno account is configured")

func newAccounts[A account](list []A) (accounts[A], error) {
	if len(list) == 0 {
		return accounts[A]{}, errNoAccounts
	}
	a := accounts[A]{list: list, byName: make(map[string]int, len(list))}
	for i, acc := range list {
		if acc.accountName() == "" || !acc.complete() {
			return accounts[A]{}, fmt.Errorf("Suno account %d: its name and every port the role uses of it are needed", i+1)
		}
		if _, dup := a.byName[acc.accountName()]; dup {
			return accounts[A]{}, fmt.Errorf("Suno account %q is configured twice", acc.accountName())
		}
		a.byName[acc.accountName()] = i
	}
	return a, nil
}

// of is the account named name: the one that submitted a task. A name no
// longer configured (or none, for a task submitted before accounts had
// names) falls to the first account.
func (a accounts[A]) of(name string) A {
	if i, ok := a.byName[name]; ok {
		return a.list[i]
	}
	return a.list[0]
}
