package tracking

import (
	"fmt"
	"math/rand/v2"
)

var runNameAdjectives = []string{
	"agreeable", "bold", "brave", "bright", "calm", "capable", "casual", "clean", "clever",
	"crisp", "curious", "dapper", "debonair", "eager", "enchanting", "fearless", "gentle",
	"glamorous", "gregarious", "honest", "judicious", "kindly", "languid", "learned",
	"likeable", "loud", "merciful", "nimble", "omniscient", "polite", "redolent", "resilient",
	"rogue", "sassy", "silent", "skillful", "smiling", "stately", "suave", "sedate", "thundering",
	"traveling", "unequaled", "upbeat", "valuable", "victorious", "wise", "youthful",
}

var runNameNouns = []string{
	"ant", "ape", "asp", "bass", "bat", "bear", "bee", "bird", "boar", "bug", "calf", "carp",
	"cat", "chimp", "cod", "colt", "conch", "cow", "crab", "crane", "croc", "crow", "cub", "deer",
	"doe", "dog", "dolphin", "donkey", "dove", "duck", "eel", "elk", "fawn", "finch", "fish",
	"flea", "fly", "foal", "fowl", "fox", "frog", "gnat", "gnu", "goat", "goose", "grouse",
	"gull", "hare", "hawk", "hen", "hog", "horse", "hound", "jay", "kit", "koi", "lamb", "lark",
	"loon", "lynx", "mare", "mink", "mole", "moose", "moth", "mouse", "mule", "newt", "owl",
	"ox", "panda", "penguin", "perch", "pig", "pug", "quail", "ram", "rat", "ray", "robin",
	"roo", "rook", "seal", "shad", "shark", "sheep", "shoat", "shrew", "shrike", "skink",
	"skunk", "sloth", "slug", "smelt", "snail", "snake", "snipe", "sow", "sponge", "squid",
	"squirrel", "stag", "steed", "stoat", "stork", "swan", "tern", "toad", "trout", "turtle",
	"vole", "wasp", "whale", "wolf", "worm", "wren", "yak", "zebra",
}

// GenerateRunName returns a name like MLflow gives runs created without one
// ("casual-dove-178"), drawn from r so that callers control the randomness.
func GenerateRunName(r *rand.Rand) string {
	return fmt.Sprintf("%s-%s-%d",
		runNameAdjectives[r.IntN(len(runNameAdjectives))],
		runNameNouns[r.IntN(len(runNameNouns))],
		r.IntN(1000))
}
