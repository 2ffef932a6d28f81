package service

import (
	"errors"
	"fmt"
)

// SunoAccount is one Suno account as the roles use it: its rate window
// and breaker (Account), and the client that speaks with its key.
type SunoAccount struct {
	Name    string
	Account Account
	Suno    Suno
}

// accounts are the Suno accounts songs are spread over (DESIGN.md section
// 14), in the order they were configured. A task's later calls go to the
// account that submitted it (Generation.Account).
type accounts struct {
	list   []SunoAccount
	byName map[string]int
}

var errNoAccounts = errors.New("no Suno account is configured")

func newAccounts(list []SunoAccount) (accounts, error) {
	if len(list) == 0 {
		return accounts{}, errNoAccounts
	}
	a := accounts{list: list, byName: make(map[string]int, len(list))}
	for i, acc := range list {
		if acc.Name == "" || acc.Account == nil || acc.Suno == nil {
			return accounts{}, fmt.Errorf("Suno account %d: a name, its rate window and breaker, and its client are all needed", i+1)
		}
		if _, dup := a.byName[acc.Name]; dup {
			return accounts{}, fmt.Errorf("Suno account %q is configured twice", acc.Name)
		}
		a.byName[acc.Name] = i
	}
	return a, nil
}

// of is the account named name: the one that submitted a task. A name no
// longer configured (or none, for a task submitted before accounts had
// names) falls to the first account.
func (a accounts) of(name string) SunoAccount {
	if i, ok := a.byName[name]; ok {
		return a.list[i]
	}
	return a.list[0]
}
