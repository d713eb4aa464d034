# Generates tests/models/data/torch_mix_opset*.onnx (PyTorch 1.13, Debian python3-torch):
# conv/BN/hardswish/relu6/nearest+bilinear resize/ceil avg-pool/deconv with output_padding/
# Linear on 3-D/softmax/hardsigmoid/mean/PixelShuffle exported at opsets 11, 13, 17.
# Run from tests/models/data: /usr/bin/python3 make_torch_mix.py
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
class M(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1=nn.Conv2d(3,8,3,2,1); s.bn=nn.BatchNorm2d(8); s.c2=nn.Conv2d(8,8,3,1,1,groups=8)
        s.dc=nn.ConvTranspose2d(8,4,3,2,1,output_padding=1); s.fc=nn.Linear(16,10); s.ps=nn.PixelShuffle(2)
        s.bn.running_mean.uniform_(-1,1); s.bn.running_var.uniform_(0.5,2)
    def forward(s,x):
        y=F.hardswish(s.bn(s.c1(x)))
        y=F.relu6(s.c2(y))
        y=F.interpolate(y,scale_factor=2,mode='nearest')
        y=F.avg_pool2d(y,3,2,1,ceil_mode=True,count_include_pad=False)
        z=F.interpolate(y,size=(12,12),mode='bilinear',align_corners=False)
        y=s.dc(y)
        b,c,h,w=y.shape
        y=y.view(b,c,-1)[:, :, :16]
        y=s.fc(y)                     # Linear on 3-D: MatMul + Add
        y=torch.cat([y, y*0.5],1).softmax(-1)
        return y, F.hardsigmoid(z).mean(dim=(2,3)), s.ps(z)
m=M().eval()
x=torch.randn(1,3,16,16)
for op in (11,13,17):
    torch.onnx.export(m,x,f"torch_mix_opset{op}.onnx",opset_version=op,input_names=['x'],output_names=['y','z','p'])
print('ok')
