import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CompiledModel, compileModel, loadMujoco, type MjData, type Mujoco } from '../../envs/mujoco/runtime.js';
import { geomDescriptors, GEOM_TYPES, gridSpacing, meshData, type ModelArrays, poseMatrix, robotRoot, treeRoot } from '../../viewer/geoms.js';

// Every drawn geom type, a material colour, a hidden group, an invisible geom and a loose
// object (the ball) next to a two-body robot.
const XML = `<mujoco model="geoms">
  <asset>
    <mesh name="tet" vertex="0 0 0  0.2 0 0  0 0.2 0  0 0 0.2"/>
    <material name="red" rgba="1 0 0 1"/>
  </asset>
  <worldbody>
    <geom name="floor" type="plane" size="2 3 0.1" rgba="0.2 0.3 0.4 1"/>
    <geom name="sky" type="plane" size="0 0 1" pos="0 0 -1"/>
    <body name="robot" pos="0 0 1">
      <freejoint/>
      <geom name="box" type="box" size="0.1 0.2 0.3" rgba="0.9 0.1 0.1 1"/>
      <body name="arm" pos="0 0 0.5">
        <joint name="hinge" type="hinge" axis="0 1 0"/>
        <geom name="sphere" type="sphere" size="0.15" material="red"/>
        <geom name="capsule" type="capsule" size="0.05 0.2" pos="0 0 0.3"/>
        <geom name="cylinder" type="cylinder" size="0.07 0.25"/>
        <geom name="ellipsoid" type="ellipsoid" size="0.1 0.2 0.3"/>
        <geom name="mesh" type="mesh" mesh="tet" rgba="0 1 0 1"/>
        <geom name="hidden" type="sphere" size="0.1" group="3"/>
        <geom name="ghost" type="sphere" size="0.1" rgba="1 1 1 0"/>
      </body>
    </body>
    <body name="ball" pos="1 0 0.1">
      <joint type="slide" axis="1 0 0"/>
      <geom name="ball" type="sphere" size="0.05" rgba="0.2 0.4 0.9 1"/>
    </body>
  </worldbody>
</mujoco>`;

let mj: Mujoco;
let compiled: CompiledModel;
let data: MjData;
let m: ModelArrays;

beforeAll(async () => {
  mj = await loadMujoco();
  compiled = compileModel(mj, { kind: 'xml', xml: XML, name: 'geoms-test' });
  data = new mj.MjData(compiled.model);
  m = compiled.model as unknown as ModelArrays;
});

afterAll(() => {
  data?.delete();
  compiled?.dispose();
});

const close = (a: readonly number[], b: readonly number[], eps = 1e-6) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) < eps);

describe('geomDescriptors', () => {
  it('maps every geom type with its size, colour, mesh and body', () => {
    const d = geomDescriptors(m);
    const byType = d.map((g) => g.type);
    expect(byType).toEqual(['plane', 'plane', 'box', 'sphere', 'capsule', 'cylinder', 'ellipsoid', 'mesh', 'sphere']);
    const [floor, sky, box, sphere, capsule, cylinder, ellipsoid, mesh, ball] = d;
    expect(floor.size).toEqual([4, 6, 0]); // full widths
    expect(sky.size).toEqual([0, 0, 0]); // infinite
    expect(close(box.size, [0.2, 0.4, 0.6])).toBe(true);
    expect(close(sphere.size, [0.15, 0.15, 0.15])).toBe(true);
    expect(close(capsule.size, [0.05, 0.2, 0])).toBe(true);
    expect(close(cylinder.size, [0.07, 0.25, 0])).toBe(true);
    expect(close(ellipsoid.size, [0.1, 0.2, 0.3])).toBe(true);
    expect(mesh.size).toEqual([1, 1, 1]);
    expect(mesh.mesh).toBe(0);
    expect(d.filter((g) => g.type !== 'mesh').every((g) => g.mesh === null)).toBe(true);
    // Colours: own rgba, material rgba for a default-grey geom with a material.
    expect(close(floor.rgba, [0.2, 0.3, 0.4, 1])).toBe(true);
    expect(close(sphere.rgba, [1, 0, 0, 1])).toBe(true);
    expect(close(mesh.rgba, [0, 1, 0, 1])).toBe(true);
    expect(close(capsule.rgba, [0.5, 0.5, 0.5, 1])).toBe(true);
    // Group 3 and fully transparent geoms are not drawn; indices still point at model geoms.
    expect(d.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 10]);
    expect(geomDescriptors(m, { maxGroup: 5, keepInvisible: true })).toHaveLength(11);
    // The robot is the larger tree; the floor and the loose ball are not part of it.
    expect(d.filter((g) => g.robot).map((g) => g.type)).toEqual(['box', 'sphere', 'capsule', 'cylinder', 'ellipsoid', 'mesh']);
    expect(ball.robot).toBe(false);
    expect(box.body).toBe(1);
    expect(sphere.body).toBe(2);
  });

  it('finds tree roots and the robot', () => {
    expect(robotRoot(m)).toBe(1);
    expect(treeRoot(m, 2)).toBe(1);
    expect(treeRoot(m, 3)).toBe(3);
    expect(treeRoot(m, 0)).toBe(0);
    expect(robotRoot({ nbody: 1, body_parentid: [0] })).toBe(0);
  });

  it('skips types it cannot draw', () => {
    const fake: ModelArrays = { ...m, ngeom: 2, geom_type: [1, 8], geom_size: new Float64Array(6), geom_rgba: new Float32Array(8).fill(1), geom_matid: [-1, -1], geom_dataid: [-1, -1], geom_group: [0, 0], geom_bodyid: [0, 0] };
    expect(geomDescriptors(fake)).toEqual([]);
    expect(GEOM_TYPES[1]).toBe('hfield');
  });
});

describe('meshData', () => {
  it('returns the compiled mesh triangles with in-range indices', () => {
    const md = meshData(m, 0);
    const nv = (compiled.model.mesh_vertnum as Int32Array)[0];
    const nf = (compiled.model.mesh_facenum as Int32Array)[0];
    expect(nv).toBe(4);
    expect(nf).toBe(4);
    expect(md.positions).toHaveLength(3 * nv);
    expect(md.indices).toHaveLength(3 * nf);
    expect(Array.from(md.positions)).toEqual(Array.from((compiled.model.mesh_vert as Float32Array).slice(0, 3 * nv)));
    expect(Math.max(...md.indices)).toBeLessThan(nv);
    // The edge lengths of the tetrahedron survive MuJoCo's re-centring of the mesh.
    const p = (i: number) => [md.positions[3 * i], md.positions[3 * i + 1], md.positions[3 * i + 2]];
    const lens = [];
    for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) lens.push(Math.hypot(...p(i).map((x, k) => x - p(j)[k])));
    lens.sort((a, b) => a - b);
    expect(close(lens, [0.2, 0.2, 0.2, 0.2 * Math.SQRT2, 0.2 * Math.SQRT2, 0.2 * Math.SQRT2], 1e-6)).toBe(true);
    expect(() => meshData(m, 1)).toThrow(RangeError);
  });
});

describe('poseMatrix', () => {
  it('turns geom_xpos / geom_xmat into a column-major world matrix', () => {
    const q = data.qpos as Float64Array;
    q.set([0.5, -0.2, 1.0, 1, 0, 0, 0, Math.PI / 2, 0]); // free joint pose, hinge at 90 degrees, slide 0
    mj.mj_kinematics(compiled.model, data);
    const xpos = (data.geom_xpos as Float64Array).slice();
    const xmat = (data.geom_xmat as Float64Array).slice();
    const out = new Float64Array(16);
    poseMatrix(xpos, xmat, 2, out); // the box, at the free joint's position
    expect(close([out[12], out[13], out[14]], [0.5, -0.2, 1.0])).toBe(true);
    expect(out[15]).toBe(1);
    const capsule = 4;
    poseMatrix(xpos, xmat, capsule, out);
    // Hinge about y by +90 degrees maps the capsule's local z axis to world +x.
    expect(close([out[8], out[9], out[10]], [1, 0, 0], 1e-9)).toBe(true);
    // Its centre, 0.3 m along that axis from the arm body at (0.5, -0.2, 1.5).
    expect(close([out[12], out[13], out[14]], [0.8, -0.2, 1.5], 1e-9)).toBe(true);
    // Rotation columns are orthonormal.
    const col = (k: number) => [out[4 * k], out[4 * k + 1], out[4 * k + 2]];
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) expect(col(a).reduce((s, x, i) => s + x * col(b)[i], 0)).toBeCloseTo(a === b ? 1 : 0, 9);
  });
});

describe('gridSpacing', () => {
  it('picks 1, 2 or 5 x 10^k near a sixth of the size', () => {
    expect(gridSpacing(0.6)).toBe(0.1);
    expect(gridSpacing(1.5)).toBe(0.5);
    expect(gridSpacing(3)).toBe(0.5);
    expect(gridSpacing(10)).toBe(2);
  });
});
