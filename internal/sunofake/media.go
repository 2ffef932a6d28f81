package sunofake

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"path"
	"strings"
	"time"
)

// The fake serves its own audio and cover images so that a browser player in
// the local stack works without reaching any outside host.

const (
	sampleRate = 8000
	// audioSeconds is the length of every fake track, and the duration
	// record-info and callbacks report for it.
	audioSeconds = 6
)

// mediaSeed derives a stable number from a media path's file name, so each
// track sounds and looks a little different but always the same.
func mediaSeed(p string) uint32 {
	name := strings.TrimSuffix(path.Base(p), path.Ext(p))
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()
}

func (s *Server) handleAudio(w http.ResponseWriter, r *http.Request) {
	// The URL ends in .mp3 like Suno's, but the body is a WAV, and says so:
	// browsers trust the Content-Type, and writing an MP3 encoder for a
	// fake is not worth it.
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(tone(mediaSeed(r.URL.Path))))
}

func (s *Server) handleImage(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, cover(mediaSeed(r.URL.Path))); err != nil {
		http.Error(w, "encode cover", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(buf.Bytes()))
}

// tone returns a quiet arpeggio on a pentatonic scale as an 8 kHz, 8-bit
// mono WAV: small, valid everywhere, and pleasanter than silence.
func tone(seed uint32) []byte {
	scale := []float64{261.63, 293.66, 329.63, 392.00, 440.00, 523.25} // C major pentatonic
	const n = sampleRate * audioSeconds
	const noteLen = sampleRate / 2 // half a second per note
	data := make([]byte, n)
	for i := range n {
		note := i / noteLen
		f := scale[(int(seed>>(note%8*4))+note)%len(scale)]
		t := float64(i%noteLen) / sampleRate
		env := math.Exp(-3*t) * math.Min(1, t*200) // soft attack, decay
		v := 0.25 * env * math.Sin(2*math.Pi*f*float64(i)/sampleRate)
		data[i] = byte(128 + 127*v)
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+n))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))         // fmt chunk size
	binary.Write(&b, binary.LittleEndian, uint16(1))          // PCM
	binary.Write(&b, binary.LittleEndian, uint16(1))          // mono
	binary.Write(&b, binary.LittleEndian, uint32(sampleRate)) // sample rate
	binary.Write(&b, binary.LittleEndian, uint32(sampleRate)) // byte rate
	binary.Write(&b, binary.LittleEndian, uint16(1))          // block align
	binary.Write(&b, binary.LittleEndian, uint16(8))          // bits per sample
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(n))
	b.Write(data)
	return b.Bytes()
}

// cover returns a small diagonal gradient in colours derived from seed.
func cover(seed uint32) image.Image {
	const size = 64
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	r0, g0, b0 := byte(seed), byte(seed>>8), byte(seed>>16)
	for y := range size {
		for x := range size {
			k := byte((x + y) * 2)
			img.Set(x, y, color.RGBA{r0 ^ k, g0 + k/2, b0 - k/3, 255})
		}
	}
	return img
}
