//! The generated version: file metas of a fleet of cameras (scene / day / camera folders,
//! frame-numbered names), about ten `ai` tags per file drawn from a vocabulary of 1,000
//! with Zipf frequencies (a few tags on most frames, a long tail of rare ones), some
//! `user` tags and rejections, and vectors clustered around the embeddings of each
//! file's two most frequent tags, so a text query for a tag ranks its files first.
//! Everything is derived from a seed: two runs generate the same version.

use loupe_core::file_meta::file_meta_id;
use loupe_core::ids::DatasetId;
use loupe_core::version::VersionName;

/// Tags per file in the `ai` group.
pub const TAGS_PER_FILE: usize = 10;
/// Distinct tag names.
pub const VOCABULARY: usize = 1000;
/// Zipf exponent of tag frequencies: the most frequent tag is on about 70 % of files,
/// the median one on about 0.3 %.
const ZIPF_EXPONENT: f64 = 1.0;
/// Share of files with one `user` tag, and with one rejected `ai` tag.
const USER_TAG_SHARE: f64 = 0.1;
const REJECTED_SHARE: f64 = 0.02;

const OBJECTS: [&str; 50] = [
    "car",
    "pedestrian",
    "truck",
    "lane line",
    "traffic light",
    "bus",
    "cyclist",
    "motorcycle",
    "traffic cone",
    "stop sign",
    "crosswalk",
    "barrier",
    "van",
    "tree",
    "building",
    "sidewalk",
    "curb",
    "guardrail",
    "speed limit sign",
    "parking meter",
    "fire hydrant",
    "street lamp",
    "road marking",
    "pothole",
    "construction zone",
    "tunnel",
    "bridge",
    "overpass",
    "roundabout",
    "toll booth",
    "ambulance",
    "police car",
    "taxi",
    "trailer",
    "tractor",
    "scooter",
    "wheelchair",
    "stroller",
    "dog",
    "horse",
    "deer",
    "debris",
    "puddle",
    "snow pile",
    "road sign",
    "billboard",
    "bollard",
    "railway crossing",
    "tram",
    "emergency vehicle",
];

const MODIFIERS: [&str; 20] = [
    "",
    "parked ",
    "moving ",
    "occluded ",
    "distant ",
    "red ",
    "white ",
    "black ",
    "blurred ",
    "truncated ",
    "reflected ",
    "wet ",
    "backlit ",
    "partially visible ",
    "small ",
    "large ",
    "crowded ",
    "damaged ",
    "temporary ",
    "illuminated ",
];

const SCENES: [&str; 12] = [
    "highway",
    "urban",
    "suburb",
    "parking",
    "tunnel",
    "rural",
    "intersection",
    "bridge",
    "harbor",
    "campus",
    "mountain",
    "downtown",
];

const CAMERAS: [&str; 6] = [
    "cam_front",
    "cam_front_left",
    "cam_front_right",
    "cam_back",
    "cam_left",
    "cam_right",
];

/// Recording days per scene and camera.
const DAYS: usize = 120;
/// 2024-09-01T00:00:00Z, ms: the first recording day.
const FIRST_DAY_MS: i64 = 1_725_148_800_000;
const DAY_MS: i64 = 86_400_000;

/// The tag of vocabulary rank `rank` (0 is the most frequent): bare objects first, then
/// the same objects with modifiers.
pub fn tag_name(rank: usize) -> String {
    let (modifier, object) = (rank / OBJECTS.len(), rank % OBJECTS.len());
    format!("{}{}", MODIFIERS[modifier], OBJECTS[object])
}

/// The scene of folder index `i` (for `FileDir:` queries).
pub fn scene(i: usize) -> &'static str {
    SCENES[i % SCENES.len()]
}

/// The time of day `day` (0-based) as PAI writes times.
pub fn day_time(day: usize) -> String {
    let ms = FIRST_DAY_MS + DAY_MS * day as i64;
    loupe_core::time::Timestamp::from_millis(ms).to_iso8601()
}

/// SplitMix64: small, fast and good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
}

/// Draws vocabulary ranks with Zipf frequencies.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// Over the whole vocabulary.
    pub fn new() -> Self {
        let weights: Vec<f64> = (1..=VOCABULARY)
            .map(|k| (k as f64).powf(-ZIPF_EXPONENT))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cdf = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Self { cdf }
    }

    /// One rank.
    pub fn draw(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(VOCABULARY - 1)
    }
}

/// One generated file meta with its tags (vocabulary ranks).
pub struct File {
    pub file_id: String,
    pub key: String,
    pub name: String,
    pub dir: String,
    pub size: i64,
    pub content_type: &'static str,
    pub created_at: i64,
    pub updated_at: i64,
    pub width: i32,
    pub height: i32,
    /// `ai` tags, most frequent first.
    pub ai: Vec<usize>,
    pub user: Option<usize>,
    pub rejected: Option<usize>,
}

/// The files of the version, in listing (key) order.
pub fn files(dataset: &DatasetId, count: usize, seed: u64) -> Vec<File> {
    let zipf = Zipf::new();
    let mut rng = Rng::new(seed);
    let folders = SCENES.len() * DAYS * CAMERAS.len();
    let per_folder = count.div_ceil(folders);
    let version = VersionName::from_number(1);
    let dates: Vec<String> = (0..DAYS).map(|d| day_time(d)[..10].to_string()).collect();
    (0..count)
        .map(|i| {
            let (folder, frame) = (i / per_folder, i % per_folder);
            let (scene, rest) = (folder % SCENES.len(), folder / SCENES.len());
            let (day, camera) = (rest % DAYS, rest / DAYS % CAMERAS.len());
            let taken = FIRST_DAY_MS + DAY_MS * day as i64 + frame as i64 * 100;
            let date = &dates[day];
            let compact: String = date.chars().filter(|c| *c != '-').collect();
            let dir = format!("{}/{date}/{}", SCENES[scene], CAMERAS[camera]);
            let png = rng.below(10) == 0;
            let name = format!(
                "{}_{compact}_{frame:06}.{}",
                CAMERAS[camera],
                if png { "png" } else { "jpg" }
            );
            let key = format!("{dir}/{name}");
            let mut ai: Vec<usize> = Vec::with_capacity(TAGS_PER_FILE);
            while ai.len() < TAGS_PER_FILE {
                let rank = zipf.draw(&mut rng);
                if !ai.contains(&rank) {
                    ai.push(rank);
                }
            }
            ai.sort_unstable();
            let user = (rng.unit() < USER_TAG_SHARE).then(|| zipf.draw(&mut rng));
            let rejected = (rng.unit() < REJECTED_SHARE).then(|| ai[rng.below(ai.len())]);
            let (width, height) =
                [(1920, 1080), (1280, 720), (3840, 2160), (1600, 1200)][rng.below(4)];
            File {
                file_id: file_meta_id(dataset, version, &key),
                key,
                name,
                dir,
                size: 40_000 + rng.below(3_000_000) as i64,
                content_type: if png { "image/png" } else { "image/jpeg" },
                created_at: taken,
                updated_at: taken + rng.below(30) as i64 * DAY_MS,
                width,
                height,
                ai,
                user,
                rejected,
            }
        })
        .collect()
}

/// A unit vector near `0.8·a + 0.5·b`, with uniform noise in every dimension.
pub fn clustered(rng: &mut Rng, a: &[f32], b: &[f32], out: &mut [f32]) {
    let dim = out.len();
    // Noise of about 0.6 in norm: uniform in ±s has variance s²/3.
    let spread = 0.6 * (3.0 / dim as f64).sqrt();
    for (i, v) in out.iter_mut().enumerate() {
        let noise = (rng.unit() * 2.0 - 1.0) * spread;
        *v = 0.8 * a[i] + 0.5 * b[i] + noise as f32;
    }
    let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    out.iter_mut().for_each(|x| *x /= norm);
}
