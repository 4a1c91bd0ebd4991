/**
 * MJCF textures in the viewer (viewer/textures.ts, ReplayModel): which texture a geom shows and
 * how (MuJoCo's generated coordinates or a mesh's own), texture pixels as RGBA, the size limits,
 * and what a model payload brings to the page: the bring-your-own fixture's PNG file and builtin
 * checker, and prefrl's own models, whose floors take the viewer's grid instead of their texture.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CompiledModel, compileModel, loadMujoco, type Mujoco } from '../../envs/mujoco/runtime.js';
import { modelArrays, ReplayModel } from '../../viewer/client/replay.js';
import { checkModelMessage, modelPayload } from '../../viewer/env_info.js';
import { geomTexture, meshUV, type TextureArrays, texgenUV, texturePixels, textureSkipReason } from '../../viewer/textures.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/byo_textured/textured.xml', import.meta.url));

// tiles.png: 16x16, four 8x8 quadrants (sRGB bytes).
const MAGENTA = [230, 40, 200, 255];
const GREEN = [40, 200, 90, 255];
const BLUE = [40, 90, 230, 255];
const YELLOW = [230, 200, 40, 255];

let mj: Mujoco;
let fixture: CompiledModel;

beforeAll(async () => {
  mj = await loadMujoco();
  fixture = compileModel(mj, { kind: 'file', path: FIXTURE });
});

afterAll(() => fixture?.dispose());

const near = (a: ArrayLike<number>, b: readonly number[], eps = 1e-6) => a.length === b.length && b.every((x, i) => Math.abs(a[i] - x) < eps);

/** Arrays of a made-up model: geom g uses material g; material k's texture is tex[k] (role RGB). */
function fake(geoms: { type: number; size: [number, number, number]; mesh?: number }[], mats: { tex: number; repeat: [number, number]; uniform: boolean }[], texTypes: number[] = [0]): TextureArrays {
  const mat_texid = new Array(10 * mats.length).fill(-1);
  mats.forEach((m, k) => {
    mat_texid[10 * k + 1] = m.tex;
  });
  return {
    ntex: texTypes.length,
    nmat: mats.length,
    geom_type: geoms.map((g) => g.type),
    geom_size: geoms.flatMap((g) => g.size),
    geom_matid: geoms.map((_, i) => (i < mats.length ? i : -1)),
    geom_dataid: geoms.map((g) => g.mesh ?? -1),
    tex_type: texTypes,
    tex_width: texTypes.map(() => 2),
    tex_height: texTypes.map(() => 2),
    tex_nchannel: texTypes.map(() => 3),
    tex_adr: texTypes.map((_, i) => 12 * i),
    mat_texid,
    mat_texrepeat: mats.flatMap((m) => m.repeat),
    mat_texuniform: mats.map((m) => m.uniform),
    mesh_texcoordadr: [-1, 2],
    // Mesh 1's texcoords start at 2: (0.1, 0.2), (0.3, 0.4), (0.5, 0.6).
    mesh_texcoord: [9, 9, 9, 9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    // Mesh 1 has faces 1..2 (face 0 belongs to mesh 0).
    mesh_facetexcoord: [0, 0, 0, 0, 1, 2, 2, 1, 0],
    mesh_faceadr: [0, 1],
    mesh_facenum: [1, 2],
  };
}

describe('geomTexture', () => {
  it('scales MuJoCo\'s generated coordinates by texrepeat per geom size, or per metre with texuniform', () => {
    const m = fake(
      [
        { type: 0, size: [2, 3, 0.1] }, // plane 4 x 6 m, texrepeat 2 4 over it
        { type: 0, size: [0, 0, 1] }, // infinite plane: per metre either way
        { type: 6, size: [0.5, 0.25, 0.1] }, // box, over its half sizes
        { type: 6, size: [0.5, 0.25, 0.1] }, // the same box, texuniform
        { type: 2, size: [0.2, 0, 0] }, // sphere: radius in x and y
        { type: 3, size: [0.1, 0.4, 0] }, // capsule: radius (not its half length) in y
        { type: 4, size: [0.1, 0.2, 0.3] }, // ellipsoid: radii x, y
        { type: 7, size: [0.3, 0.6, 0.9], mesh: 0 }, // mesh without texcoords: generated, over its size
      ],
      [
        { tex: 0, repeat: [2, 4], uniform: false },
        { tex: 0, repeat: [3, 3], uniform: false },
        { tex: 0, repeat: [1, 1], uniform: false },
        { tex: 0, repeat: [1, 2], uniform: true },
        { tex: 0, repeat: [2, 4], uniform: false },
        { tex: 0, repeat: [1, 1], uniform: false },
        { tex: 0, repeat: [1, 1], uniform: false },
        { tex: 0, repeat: [3, 3], uniform: false },
      ],
    );
    const scales = [0, 1, 2, 3, 4, 5, 6, 7].map((g) => {
      const t = geomTexture(m, g);
      if (t?.mapping.kind !== 'texgen') throw new Error(`geom ${g}: ${JSON.stringify(t)}`);
      return t.mapping.scale;
    });
    const want = [
      [1, 4 / 3],
      [3, 3],
      [2, 4],
      [1, 2],
      [10, 20],
      [10, 10],
      [10, 5],
      [10, 5],
    ];
    scales.forEach((s, g) => expect(near(s, want[g]), `geom ${g}: ${s}`).toBe(true));
  });

  it('uses a mesh\'s own texture coordinates, role RGB of the material, and skips cube and skybox textures', () => {
    const m = fake(
      [
        { type: 7, size: [1, 1, 1], mesh: 1 },
        { type: 6, size: [1, 1, 1] },
        { type: 6, size: [1, 1, 1] },
        { type: 6, size: [1, 1, 1] },
      ],
      [
        { tex: 0, repeat: [1, 1], uniform: false },
        { tex: 1, repeat: [1, 1], uniform: false },
        { tex: 2, repeat: [1, 1], uniform: false },
      ],
      [0, 1, 2],
    );
    expect(geomTexture(m, 0)).toEqual({ tex: 0, mapping: { kind: 'mesh' } });
    expect(geomTexture(m, 1)).toBeNull(); // a cube texture
    expect(geomTexture(m, 2)).toBeNull(); // a skybox
    expect(geomTexture(m, 3)).toBeNull(); // no material
    // A texture in another role (say 5, normal map) is not drawn.
    const other = { ...m, mat_texid: Array.from(m.mat_texid, (_, i) => (i === 5 ? 0 : -1)) };
    expect(geomTexture(other, 0)).toBeNull();
  });

  it('reads the fixture model: the floor once across its 2 x 2 m, the crate\'s own coordinates, the box\'s checker per metre', () => {
    const a = modelArrays(fixture.model);
    expect(Array.from(a.mat_texuniform)).toEqual([0, 0, 1]);
    expect(geomTexture(a, 0)).toEqual({ tex: 0, mapping: { kind: 'texgen', scale: [1, 1] } });
    expect(geomTexture(a, 1)).toEqual({ tex: 0, mapping: { kind: 'mesh' } });
    expect(geomTexture(a, 2)).toEqual({ tex: 1, mapping: { kind: 'texgen', scale: [2, 2] } });
  });
});

describe('texgenUV', () => {
  it('gives u = 0.5 k0 x - 0.5 and v = -0.5 k1 y - 0.5', () => {
    // Scale 1 over a plane of half size 1: u runs -1..0 and v 0..-1 across it (one repeat); the
    // texture's top row (v = 0, mod 1) is at y = +1, its left column at x = -1.
    const uv = texgenUV([-1, -1, 0, 1, 1, 0, 0.5, -0.25, 7], [1, 1]);
    expect(near(uv, [-1, 0, 0, -1, -0.25, -0.375])).toBe(true);
    // texuniform, texrepeat 3 2: one repeat every 2/3 m in x and 1 m in y.
    const w = texgenUV([0, 0, 0, 2 / 3, 1, 0], [3, 2]);
    expect(near([w[2] - w[0], w[1] - w[3]], [1, 1])).toBe(true);
  });
});

describe('meshUV', () => {
  it('lists the mesh\'s texture coordinates per face corner, faces in order', () => {
    const m = fake([{ type: 7, size: [1, 1, 1], mesh: 1 }], [{ tex: 0, repeat: [1, 1], uniform: false }]);
    expect(meshUV(m, 0)).toBeNull();
    expect(near(meshUV(m, 1) as Float32Array, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.5, 0.6, 0.3, 0.4, 0.1, 0.2])).toBe(true);
    expect(() => meshUV({ ...m, mesh_facetexcoord: [0, 0, 0, 0, 1, 2, 2, 1, 3] }, 1)).toThrow(/texcoord 5 outside 0\.\.4/);
    // The fixture's crate: 12 faces, every corner in the blue quadrant (0.25, 0.75).
    const crate = meshUV(modelArrays(fixture.model), 0) as Float32Array;
    expect(crate.length).toBe(72);
    expect(near(crate, Array.from({ length: 72 }, (_, i) => (i % 2 ? 0.75 : 0.25)))).toBe(true);
  });
});

describe('texturePixels', () => {
  it('reads the PNG file of the fixture\'s folder (row 0 = the image\'s top row) and a builtin checker', () => {
    const a = modelArrays(fixture.model);
    const img = texturePixels(a, fixture.model.tex_data as Uint8Array, 0);
    expect([img.width, img.height, img.rgba.length]).toEqual([16, 16, 1024]);
    const px = (x: number, y: number) => Array.from(img.rgba.subarray(4 * (16 * y + x), 4 * (16 * y + x) + 4));
    expect([px(0, 0), px(15, 0), px(0, 15), px(15, 15), px(7, 7), px(8, 8)]).toEqual([MAGENTA, GREEN, BLUE, YELLOW, MAGENTA, YELLOW]);
    const checker = texturePixels(a, fixture.model.tex_data as Uint8Array, 1);
    expect([checker.width, Array.from(checker.rgba.subarray(0, 4))]).toEqual([32, [255, 127, 0, 255]]);
  });

  it('expands 1 (grey), 2 (grey, alpha), 3 and 4 channels to RGBA, and names a texture outside tex_data', () => {
    const m = (c: number, adr = 1) => ({ tex_width: [2], tex_height: [1], tex_nchannel: [c], tex_adr: [BigInt(adr)] });
    const data = [99, 10, 20, 30, 40, 50, 60, 70, 80];
    expect(Array.from(texturePixels(m(1), data, 0).rgba)).toEqual([10, 10, 10, 255, 20, 20, 20, 255]);
    expect(Array.from(texturePixels(m(2), data, 0).rgba)).toEqual([10, 10, 10, 20, 30, 30, 30, 40]);
    expect(Array.from(texturePixels(m(3), data, 0).rgba)).toEqual([10, 20, 30, 255, 40, 50, 60, 255]);
    expect(Array.from(texturePixels(m(4), data, 0).rgba)).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
    expect(() => texturePixels(m(4, 2), data, 0)).toThrow(/texture 0 \(2x1x4 at 2\) is outside tex_data \(9 bytes\)/);
  });
});

describe('textureSkipReason', () => {
  it('draws 2D textures up to 8192 a side and 4096 x 4096 pixels', () => {
    const m = (type: number, w: number, h: number) => ({ tex_type: [type], tex_width: [w], tex_height: [h] });
    expect(textureSkipReason(m(0, 4096, 4096), 0)).toBeNull();
    expect(textureSkipReason(m(0, 8192, 2048), 0)).toBeNull();
    expect(textureSkipReason(m(0, 8193, 1), 0)).toBe("8193x1 is over the viewer's limit of 8192 pixels a side");
    expect(textureSkipReason(m(0, 4097, 4096), 0)).toBe("4097x4096 is over the viewer's limit of 16777216 pixels");
    expect(textureSkipReason(m(1, 8, 48), 0)).toBe('a cube texture (the viewer draws 2D textures only)');
    expect(textureSkipReason(m(2, 8, 48), 0)).toBe('a skybox texture (the viewer draws 2D textures only)');
  });
});

describe('ReplayModel textures (what the page compiles)', () => {
  it('reads the textures of a bring-your-own model folder, planes included', () => {
    const r = ReplayModel.compile(mj, modelPayload({ id: 'custom', model: FIXTURE }));
    try {
      expect([...r.textures.keys()]).toEqual([0, 1]);
      expect(Array.from(r.textures.get(0)?.rgba.subarray(0, 4) ?? [])).toEqual(MAGENTA);
      expect([...r.geomTextures.entries()].map(([g, t]) => [g, t.tex, t.mapping.kind])).toEqual([
        [0, 0, 'texgen'],
        [1, 0, 'mesh'],
        [2, 1, 'texgen'],
      ]);
      expect(r.skippedTextures).toEqual([]);
    } finally {
      r.dispose();
    }
  });

  it('keeps the floors of prefrl\'s own models under the viewer\'s grid (no texture read)', () => {
    const payload = modelPayload({ id: 'cheetah-run' });
    expect(payload).toMatchObject({ kind: 'xml', floorGrid: true });
    const r = ReplayModel.compile(mj, payload);
    try {
      expect(r.arrays.ntex).toBe(1);
      expect([r.textures.size, r.geomTextures.size]).toEqual([0, 0]);
    } finally {
      r.dispose();
    }
    // The same model without the flag: the floor shows its checker.
    const own = ReplayModel.compile(mj, { kind: 'xml', name: 'cheetah', xml: (payload as { xml: string }).xml });
    try {
      expect([own.textures.size, own.geomTextures.size]).toEqual([1, 1]);
    } finally {
      own.dispose();
    }
  });

  it('names each texture it does not draw, with the reason and how many geoms keep their colour', () => {
    const xml = `<mujoco><asset>
      <texture name="sky" type="cube" builtin="flat" rgb1="1 0 0" width="4" height="4"/>
      <texture name="wide" type="2d" builtin="checker" rgb1="1 0 0" rgb2="0 1 0" width="8200" height="2"/>
      <material name="sky" texture="sky"/><material name="wide" texture="wide"/>
    </asset><worldbody>
      <geom type="box" size="1 1 1" material="sky"/>
      <geom type="sphere" size="1" material="wide"/><geom type="sphere" size="1" pos="3 0 0" material="wide"/>
    </worldbody></mujoco>`;
    const r = ReplayModel.compile(mj, { kind: 'xml', name: 'skips', xml });
    try {
      expect(r.skippedTextures).toEqual([
        'texture "sky" (4x24) is not drawn: a cube texture (the viewer draws 2D textures only); the geom using it keeps its colour',
        'texture "wide" (8200x2) is not drawn: 8200x2 is over the viewer\'s limit of 8192 pixels a side; the 2 geoms using it keep their colour',
      ]);
      expect([r.textures.size, r.geomTextures.size]).toEqual([0, 0]);
    } finally {
      r.dispose();
    }
  });
});

describe('checkModelMessage', () => {
  it('refuses a model whose files would not fit the page\'s limit per message, naming it', () => {
    // 1 MiB of XML plus under 1000 bytes of JSON around it.
    const big = { kind: 'xml' as const, name: 'big.xml', xml: 'x'.repeat(2 ** 20) };
    expect(() => checkModelMessage(big, 2 ** 20 + 1000)).not.toThrow();
    expect(() => checkModelMessage(big, 2 ** 19)).toThrow("big.xml: its files come to 1.0 MiB as the labelling page receives them (base64), over the page's limit of 0.5 MiB; keep only the files the model uses in its folder, or make its textures and meshes smaller");
    expect(() => checkModelMessage(modelPayload({ id: 'custom', model: FIXTURE }))).not.toThrow();
  });
});
