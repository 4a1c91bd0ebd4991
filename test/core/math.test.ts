import { describe, expect, it } from 'vitest';
import { logSigmoid, mean, meanSe, median, pearson, ranks, RunningMeanStd, sigmoid, spearman, std } from '../../core/math.js';

describe('math', () => {
  it('meanSe: mean and standard error with the sample deviation (n - 1); se 0 for one value', () => {
    // 1, 2, 3, 4: mean 2.5, squared deviations 5, sample variance 5/3, se sqrt(5/3/4) = 0.6455.
    const r = meanSe([1, 2, 3, 4]);
    expect(r.mean).toBe(2.5);
    expect(r.se).toBeCloseTo(Math.sqrt(5 / 12), 12);
    expect(meanSe(Float64Array.of(7))).toEqual({ mean: 7, se: 0 });
  });

  it('sigmoid and logSigmoid match hand values and stay finite', () => {
    expect(sigmoid(0)).toBe(0.5);
    expect(sigmoid(2)).toBeCloseTo(0.880797, 6); // 1 / (1 + e^-2)
    expect(sigmoid(-800)).toBe(0);
    expect(logSigmoid(-800)).toBe(-800);
    expect(logSigmoid(1)).toBeCloseTo(-0.313262, 6); // -log(1 + e^-1)
  });

  it('pearson of x and 2x+1 is 1, of x and -x is -1, constant gives NaN', () => {
    expect(pearson([1, 2, 3, 4], [3, 5, 7, 9])).toBeCloseTo(1, 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
    // Three 0.1s have the float mean 0.10000000000000002: centred, they are 1e-17, not 0; still constant.
    expect(mean([0.1, 0.1, 0.1])).not.toBe(0.1);
    expect(pearson([0.1, 0.1, 0.1], [1, 2, 3])).toBeNaN();
    expect(pearson([1, 2, 3], [0.1, 0.1, 0.1])).toBeNaN();
    expect(spearman([0.1, 0.1, 0.1], [1, 2, 3])).toBeNaN();
    // hand: x=[1,2,3], y=[1,3,2]: cov = (-1*-1 + 0 + 1*0)/3 ... r = 1 / (sqrt(2)*sqrt(2)) = 0.5
    expect(pearson([1, 2, 3], [1, 3, 2])).toBeCloseTo(0.5, 12);
  });

  it('median takes the middle value, the mean of the two middle ones for an even count, NaN for none', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5); // (2 + 3) / 2
    expect(median(new Float64Array([5]))).toBe(5);
    expect(median([])).toBeNaN();
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]); // the input is not sorted in place
  });

  it('ranks average ties and spearman uses them', () => {
    expect(Array.from(ranks([10, 20, 20, 5]))).toEqual([2, 3.5, 3.5, 1]);
    expect(spearman([1, 2, 3, 4], [1, 4, 9, 16])).toBeCloseTo(1, 12);
  });

  it('RunningMeanStd matches the batch mean and variance after several updates', () => {
    const rms = new RunningMeanStd(2, 0);
    const data = [1, 10, 2, 20, 3, 30, 4, 40, 5, 50];
    rms.update(data.slice(0, 4));
    rms.update(data.slice(4));
    const col0 = [1, 2, 3, 4, 5];
    expect(rms.mean[0]).toBeCloseTo(mean(col0), 12);
    expect(rms.var[0]).toBeCloseTo(std(col0) ** 2, 12); // population variance = 2
    expect(rms.var[1]).toBeCloseTo(200, 10);
    expect(RunningMeanStd.fromJSON(rms.toJSON()).mean[1]).toBeCloseTo(30, 12);
  });
});
