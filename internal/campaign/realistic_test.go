package campaign

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// realisticSpam is the text, link domains and sender network of spam
// number i of a synthetic stream shaped like real complaint traffic: many
// runs of different kinds (pharmacy, loans, crypto, phishing, lottery,
// dating, shop), each run sending variants of its own text (reworded,
// personalised, with its own tracking numbers) from its own domains. About
// one message in five starts a new run; the others belong to one of the
// runs seen so far. Benchmarks on it measure the real mix of joining an
// existing campaign and founding a new one, not one campaign hit again.
func realisticSpam(i int) (text string, domains []string, network string) {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	run := i
	if i > 0 && r.IntN(5) != 0 {
		run = r.IntN(i) // a variant of an earlier run
		for run > 0 && rand.New(rand.NewPCG(uint64(run), 7)).IntN(5) != 0 {
			run = rand.New(rand.NewPCG(uint64(run), 7)).IntN(run) // the run's founder
		}
	}
	rr := rand.New(rand.NewPCG(uint64(run), 11))
	kind := kinds[rr.IntN(len(kinds))]
	var b strings.Builder
	// The run's own sentences, in the run's order; each variant drops or
	// rewords some and personalises the greeting.
	for s := 0; s < 6; s++ {
		sent := kind.sentences[rr.IntN(len(kind.sentences))]
		if r.IntN(6) == 0 {
			continue
		}
		b.WriteString(strings.ReplaceAll(sent, "{n}", fmt.Sprint(rr.IntN(900)+100)))
		b.WriteString(" ")
	}
	fmt.Fprintf(&b, "Dear %s, reference %d-%d. ", names[r.IntN(len(names))], run, r.IntN(1e6))
	for w := 0; w < 30; w++ {
		b.WriteString(kind.words[rr.IntN(len(kind.words))] + " ")
	}
	dom := fmt.Sprintf("%s%d.%s", kind.stem, run, tlds[rr.IntN(len(tlds))])
	return b.String(), []string{dom}, fmt.Sprintf("AS%d", 64500+rr.IntN(40))
}

var (
	names = []string{"customer", "friend", "member", "Ana", "John", "valued client", "user", "Sir or Madam"}
	tlds  = []string{"biz", "top", "xyz", "ru", "info", "online", "shop", "site"}
	kinds = []struct {
		stem      string
		sentences []string
		words     []string
	}{
		{"pharm", []string{"Get the best prices on your prescriptions today.", "Save up to {n}% on brand medication without a prescription.",
			"Discreet worldwide shipping in {n} hours.", "Our licensed pharmacists are available around the clock.", "Order now and receive free pills with every order.",
			"Trusted by {n},000 happy customers."}, []string{"pills", "tablets", "generic", "dosage", "pharmacy", "refill", "discount", "secure", "order", "health"}},
		{"loan", []string{"You are pre-approved for a loan of up to ${n},000.", "Refinance your mortgage at the lowest rate of the year.",
			"Bad credit is not a problem for our lenders.", "Funds deposited within {n} hours of approval.", "No hidden fees and flexible repayment.",
			"Apply in minutes from your phone."}, []string{"credit", "rate", "approval", "lender", "mortgage", "payment", "apply", "funds", "cash", "instant"}},
		{"coin", []string{"Double your Bitcoin in {n} days with our trading robot.", "Early investors earned {n}% last month.",
			"Join the private presale before it closes.", "Withdraw your profits at any time.", "Our AI predicts the market with {n}% accuracy.",
			"Limited places remain in the investor club."}, []string{"crypto", "wallet", "profit", "token", "exchange", "returns", "invest", "trading", "blockchain", "bonus"}},
		{"secure-login", []string{"Your account has been suspended due to unusual activity.", "Verify your identity within {n} hours to avoid closure.",
			"We detected a sign-in from a new device.", "Click below to restore full access.", "Failure to confirm will result in permanent loss of your data.",
			"Reference case number {n}."}, []string{"account", "verify", "password", "security", "login", "confirm", "update", "billing", "suspended", "urgent"}},
		{"lotto", []string{"Congratulations, your email was selected in our annual draw.", "You have won a prize of {n},000 euros.",
			"Contact our claims agent to release your winnings.", "Send your full name and address to process the transfer.", "This notification is confidential.",
			"Claim before the deadline of {n} days."}, []string{"winner", "prize", "claim", "lottery", "award", "transfer", "agent", "bank", "fee", "notification"}},
		{"meet", []string{"Lonely singles in your area want to meet you.", "{n} women viewed your profile this week.",
			"Create your free account and start chatting.", "No credit card required to browse.", "Find your match tonight.",
			"Our members are verified."}, []string{"single", "date", "chat", "profile", "match", "photos", "meet", "message", "local", "free"}},
		{"store", []string{"Luxury watches at {n}% off this weekend only.", "Designer handbags from the official outlet.",
			"Free delivery on orders over {n} dollars.", "Clearance sale: everything must go.", "Exclusive deals for our subscribers.",
			"Shop the collection before it sells out."}, []string{"sale", "replica", "brand", "outlet", "shipping", "deal", "watch", "bag", "discount", "offer"}},
	}
)
