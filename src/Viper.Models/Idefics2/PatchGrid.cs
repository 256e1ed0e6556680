namespace Viper.Models.Idefics2;

/// <summary>
/// Which patches of each padded image hold real pixels, computed on the host from the processor's pixel mask as
/// transformers 4.42's Idefics2Model.forward does: a patch is real when any of its pixels is (later versions ask for all
/// of them; the models ViPer's adapters were trained and evaluated with ran 4.42's rule, and the references follow it).
/// </summary>
public sealed class PatchGrid
{
    private PatchGrid(int images, int rows, int columns, bool[] real)
    {
        (Images, Rows, Columns, Real) = (images, rows, columns, real);
    }

    public int Images { get; }

    /// <summary>Patch rows of the padded images.</summary>
    public int Rows { get; }

    public int Columns { get; }

    public int PatchesPerImage => Rows * Columns;

    /// <summary>(images, rows, columns), row-major: true where the patch is all real pixels.</summary>
    public IReadOnlyList<bool> Real { get; }

    /// <summary>pixelMask (images, height, width), nonzero = real pixel.</summary>
    public static PatchGrid FromPixelMask(ReadOnlySpan<byte> pixelMask, int images, int height, int width, int patchSize)
    {
        if (pixelMask.Length != (long)images * height * width)
        {
            throw new ArgumentException($"a pixel mask of {pixelMask.Length} values does not cover {images} images of {height}×{width}");
        }

        int rows = height / patchSize, columns = width / patchSize;
        bool[] real = new bool[images * rows * columns];
        for (int image = 0; image < images; image++)
        {
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < columns; c++)
                {
                    real[(((image * rows) + r) * columns) + c] = AnyReal(pixelMask, image, r * patchSize, c * patchSize, height, width, patchSize);
                }
            }
        }

        return new PatchGrid(images, rows, columns, real);
    }

    /// <summary>I32 (images, patches): 1 for a real patch, 0 for padding (the attention key mask).</summary>
    public int[] KeyMask() => [.. Real.Select(r => r ? 1 : 0)];

    /// <summary>
    /// Idefics2VisionEmbeddings' position ids (images, patches): the real patches of an image of h × w patches take the
    /// buckets of a (side × side) grid their fractional coordinates fall in; padding patches take 0. The arithmetic is
    /// torch's: the step 1/h in f32, arange values i·step in f64 rounded to f32, bucketize(right=True) against f32 boundaries.
    /// </summary>
    public int[] PositionIds(int side)
    {
        float[] boundaries = Arange(1.0 / side, 1.0, 1.0 / side);
        int[] ids = new int[Images * PatchesPerImage];
        for (int image = 0; image < Images; image++)
        {
            int realRows = Enumerable.Range(0, Rows).Count(r => Real[((image * Rows) + r) * Columns]);
            int realColumns = Enumerable.Range(0, Columns).Count(c => Real[image * Rows * Columns + c]);
            if (realRows == 0 || realColumns == 0)
            {
                continue;
            }

            int[] bucketRows = Buckets(Arange(0, 1 - 1e-6, 1f / realRows), boundaries);
            int[] bucketColumns = Buckets(Arange(0, 1 - 1e-6, 1f / realColumns), boundaries);
            int[] flat = [.. bucketRows.SelectMany(r => bucketColumns.Select(c => (r * side) + c))];
            int realCount = Enumerable.Range(0, PatchesPerImage).Count(p => Real[(image * PatchesPerImage) + p]);
            if (realCount != flat.Length)
            {
                throw new ArgumentException($"image {image}: its real patches do not form one {realRows}×{realColumns} block at the top left");
            }

            int next = 0; // the real patches, in row-major order, take the bucket grid's ids in order
            for (int p = 0; p < PatchesPerImage; p++)
            {
                if (Real[(image * PatchesPerImage) + p])
                {
                    ids[(image * PatchesPerImage) + p] = flat[next++];
                }
            }
        }

        return ids;
    }

    private static bool AnyReal(ReadOnlySpan<byte> mask, int image, int top, int left, int height, int width, int size)
    {
        for (int y = top; y < top + size; y++)
        {
            if (mask.Slice((((image * height) + y) * width) + left, size).ContainsAnyExcept((byte)0))
            {
                return true;
            }
        }

        return false;
    }

    // torch.arange(start, end, step) for the default f32 dtype: ceil((end − start) / step) values start + i·step, in f64.
    private static float[] Arange(double start, double end, double step)
    {
        int count = (int)Math.Ceiling((end - start) / step);
        return [.. Enumerable.Range(0, Math.Max(count, 0)).Select(i => (float)(start + (i * step)))];
    }

    // torch.bucketize(values, boundaries, right=True): the number of boundaries ≤ each value.
    private static int[] Buckets(float[] values, float[] boundaries) => [.. values.Select(v => boundaries.Count(b => b <= v))];
}
