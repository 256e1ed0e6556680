using Viper.Imaging;
using Viper.Models.Clip;
using Viper.Runtime;
using Viper.Weights;
using Viper.Weights.Torch;

namespace Viper.Pipelines.Aesthetic;

/// <summary>
/// A user's aesthetic embedding: the mean CLIP image embedding (<c>get_image_features</c>: projected, not normalised)
/// of the images they like (vicgalle/stable-diffusion-aesthetic-gradients, scripts/gen_aesthetic_embeddings.py). Read from
/// the <c>torch.save</c> files the method's users share (f32 or f16, (P) or (1, P)) or from safetensors; written as either.
/// </summary>
public static class AestheticEmbedding
{
    /// <summary>The tensor name in the safetensors files this writes (a file holding one tensor is read whatever its name).</summary>
    public const string TensorName = "aesthetic_embedding";

    /// <summary>SDXL's pair in one .safetensors: the CLIP ViT-L/14 embedding and the OpenCLIP ViT-bigG/14 one.</summary>
    public const string ClipL = "clip_l", ClipG = "clip_g";

    /// <summary>
    /// An embedding file for any pipeline: SDXL's pair (<c>clip_l</c>, <c>clip_g</c>; either may be missing), or one
    /// embedding (A1111's and vicgalle's .pt, or a one-tensor .safetensors) as the CLIP-L one.
    /// </summary>
    public static (float[]? ClipL, float[]? ClipG) ReadPair(string path)
    {
        if (Path.GetExtension(path).Equals(".safetensors", StringComparison.OrdinalIgnoreCase) && File.Exists(path))
        {
            using SafeTensorsFile file = SafeTensorsFile.Open(path);
            if (file.Contains(ClipL) || file.Contains(ClipG))
            {
                float[]? Entry(string name) => file.Contains(name) ? Values(new TensorData(name, file.Entry(name).DType, file.Entry(name).Shape, file.Bytes(file.Entry(name)).ToArray()), path) : null;
                return (Entry(ClipL), Entry(ClipG));
            }
        }

        return (Read(path), null);
    }

    /// <summary>Writes SDXL's pair as one .safetensors (each (1, P) f32; a missing one left out).</summary>
    public static void WritePair(string path, float[]? clipL, float[]? clipG)
    {
        var tensors = new List<TensorData>();
        foreach ((string name, float[]? values) in new[] { (ClipL, clipL), (ClipG, clipG) })
        {
            if (values is not null)
            {
                tensors.Add(new TensorData(name, DType.F32, new Shape(1, values.Length), HostTensors.EncodeFloats(values, DType.F32)));
            }
        }

        SafeTensorsWriter.Write(path, tensors);
    }

    /// <summary>The embedding's values widened to f32: a 1-D (P) or (1, P) float tensor.</summary>
    public static float[] Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"no aesthetic embedding at {path}", path);
        }

        TensorData tensor = Path.GetExtension(path).Equals(".safetensors", StringComparison.OrdinalIgnoreCase) ? FromSafeTensors(path) : TorchSaveFile.ReadTensor(path);
        return Values(tensor, path);
    }

    private static float[] Values(TensorData tensor, string path)
    {
        if (!tensor.DType.IsFloat() || !(tensor.Shape.Rank == 1 || (tensor.Shape.Rank == 2 && tensor.Shape[0] == 1)) || tensor.Shape.ElementCount == 0)
        {
            throw new InvalidDataException($"{path}: an aesthetic embedding is a float tensor of shape (P) or (1, P), not {tensor.Shape} {tensor.DType}");
        }

        float[] values = HostTensors.DecodeFloats(tensor.Data.Span, tensor.DType);
        return values.All(float.IsFinite) ? values : throw new InvalidDataException($"{path}: the aesthetic embedding holds a non-finite value");
    }

    /// <summary>Writes (1, P) f32: <c>.pt</c> as torch.save would (loadable by the released scripts), anything else as safetensors.</summary>
    public static void Write(string path, float[] embedding)
    {
        byte[] data = HostTensors.EncodeFloats(embedding, DType.F32);
        var shape = new Shape(1, embedding.Length);
        if (Path.GetExtension(path).Equals(".pt", StringComparison.OrdinalIgnoreCase))
        {
            TorchSaveWriter.Write(path, DType.F32, shape, data);
            return;
        }

        SafeTensorsWriter.Write(path, [new TensorData(TensorName, DType.F32, shape, data)]);
    }

    /// <summary>
    /// image_embeds of each image (the CLIP image processor, then the vision tower and visual_projection), one image at a
    /// time so memory stays flat, and their mean. <paramref name="onImage"/> hears how many images are done.
    /// </summary>
    public static (float[] Mean, float[][] PerImage) Compute(ClipVisionModel clip, ClipImageProcessor processor, IReadOnlyList<RgbImage> images,
        Action<int>? onImage = null, CancellationToken cancellationToken = default)
    {
        if (images.Count == 0)
        {
            throw new ArgumentException("an aesthetic embedding needs at least one image", nameof(images));
        }

        IBackend b = clip.Backend;
        float[][] perImage = new float[images.Count][];
        for (int i = 0; i < images.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using Tensor pixels = b.FromFloats(processor.Preprocess(images[i]), new Shape(1, processor.CropSize, processor.CropSize, 3), clip.DType);
            using Tensor embeds = clip.Embed(pixels, cancellationToken);
            perImage[i] = embeds.ToFloats();
            onImage?.Invoke(i + 1);
        }

        // torch.cat(features).mean(0): f32 sums in image order, divided once.
        float[] mean = new float[perImage[0].Length];
        foreach (float[] row in perImage)
        {
            for (int j = 0; j < mean.Length; j++)
            {
                mean[j] += row[j];
            }
        }

        for (int j = 0; j < mean.Length; j++)
        {
            mean[j] /= perImage.Length;
        }

        return (mean, perImage);
    }

    private static TensorData FromSafeTensors(string path)
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        TensorEntry entry = file.Contains(TensorName) ? file.Entry(TensorName)
            : file.Tensors.Count == 1 ? file.Tensors[0]
            : throw new InvalidDataException($"{path}: holds {file.Tensors.Count} tensors and none named '{TensorName}'");
        return new TensorData(entry.Name, entry.DType, entry.Shape, file.Bytes(entry).ToArray());
    }
}
