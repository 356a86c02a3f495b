/**
 * The posture report cites only references of the one framework catalogue in `@clavis/core` (the one
 * `clavis advise` cites too), and names each the way the catalogue does.
 */
import { frameworkReference, unknownFrameworkReferences } from '@clavis/core';
import { describe, expect, it } from 'vitest';
import { referenceNames, ruleReferences } from '../../src/posture/references.js';

describe('posture references', () => {
  it('every rule cites references the catalogue has', () => {
    const cited = Object.values(ruleReferences).flat();
    expect(cited.length).toBeGreaterThan(16);
    expect(unknownFrameworkReferences(cited)).toEqual([]);
    expect(unknownFrameworkReferences(Object.keys(referenceNames))).toEqual([]);
  });

  it("names each reference with the catalogue's title", () => {
    for (const [id, name] of Object.entries(referenceNames)) {
      expect(name, id).toContain(frameworkReference(id)?.title as string);
    }
  });
});
