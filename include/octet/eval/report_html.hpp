// The comparison report as one self-contained HTML page: the report's JSON (report.hpp) is
// embedded in a <script type="application/json"> block and a small inline script draws every
// section as inline SVG. No network, no external scripts, fonts or styles, so the file can be
// mailed or archived as is.
//
// Sections (each appends a <div class="drawn" data-section=NAME> marker once drawn, so a
// headless browser test can check that all of them rendered): summary, network (layer list
// coloured by damage), ranking (table sorted by damage with suggestions), sqnr (SQNR along
// the depth), hist (fp32 histograms with the threshold marked), scatter (fp32 vs int8),
// search (mixed-precision result). Script errors are written into #js-errors by
// window.onerror. Undefined metrics print as "undefined", never NaN.
//
// Depends on eval/report.hpp and the standard library only.
#pragma once
#include <string>

#include "octet/eval/report.hpp"

namespace octet::eval {

inline const char* report_html_head() {
  return R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>Octet fp32 vs int8 comparison</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:22px 0 6px;border-bottom:1px solid #ccc}
table{border-collapse:collapse} td,th{padding:2px 7px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
td.l,th.l{text-align:left} tr.flag td{font-weight:600} .sug{white-space:normal;text-align:left;max-width:520px;font-weight:400}
.kv td{text-align:left} .muted{color:#777} .small{display:inline-block;margin:4px 10px 10px 0;vertical-align:top}
.small div{font-size:11px;max-width:260px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.sw{display:inline-block;width:12px;height:12px;border:1px solid #999;vertical-align:middle}
#js-errors{color:#b00;white-space:pre-wrap} .drawn{display:none}
.net{display:flex;flex-wrap:wrap;gap:4px}.node{border:1px solid #888;border-radius:4px;padding:3px 6px;font-size:11px;min-width:80px}
code{background:#f3f3f3;padding:1px 4px}
</style></head><body>
<pre id="js-errors"></pre>
<script>
window.onerror=function(msg,src,line,col){var e=document.getElementById('js-errors');e.textContent+='JS error: '+msg+' (line '+line+':'+col+')\n';e.setAttribute('data-errors','1');return false;};
</script>
<h1>Octet: fp32 vs int8, layer by layer</h1>
<div id="summary"></div>
<h2>Network, coloured by damage</h2><div id="network"></div>
<h2>Layers ranked by damage</h2><div id="ranking"></div>
<h2>SQNR along the depth of the network</h2><div id="sqnr"></div>
<h2>fp32 histograms with the int8 threshold</h2><div id="hist"></div>
<h2>fp32 vs int8 values</h2><div id="scatter"></div>
<h2>Mixed-precision search</h2><div id="search"></div>
<script type="application/json" id="report-data">)HTML";
}

inline const char* report_html_tail() {
  return R"HTML(</script>
<script>
(function(){
var R=JSON.parse(document.getElementById('report-data').textContent);
var NS='http://www.w3.org/2000/svg';
function el(tag,attrs,text){var e=document.createElement(tag);for(var k in attrs)e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=text;return e;}
function sv(tag,attrs,text){var e=document.createElementNS(NS,tag);for(var k in attrs)e.setAttribute(k,attrs[k]);if(text!==undefined)e.textContent=text;return e;}
function isnum(v){return typeof v==='number'&&isFinite(v);}
function f(v,d){if(v==='inf')return '\u221e';if(v==='-inf')return '-\u221e';if(!isnum(v))return 'undefined';return v.toFixed(d);}
function g(v){if(!isnum(v))return 'undefined';return Number(v.toPrecision(4)).toString();}
function pct(v){return isnum(v)?(100*v).toFixed(3)+'%':'undefined';}
function done(name){document.body.appendChild(el('div',{'class':'drawn','data-section':name}));}
function judged(L){var m=L.own||L.acc;return m.cos;}
function color(L){if(!L.runs_int8)return '#cfd8e3';var c=judged(L);if(!isnum(c))return '#e0e0e0';
 var d=Math.min(1,Math.max(0,L.damage/Math.max(1e-6,(1-R.cos_bar)*2)));var h=120*(1-d);return 'hsl('+h.toFixed(0)+',70%,'+(80-25*d).toFixed(0)+'%)';}
function section(id,fn){try{fn(document.getElementById(id));done(id);}catch(e){window.onerror(id+': '+e.message,'',0,0);}}
function sqnrv(v){return v==='inf'?null:(isnum(v)?v:null);}

section('summary',function(d){
 var t=el('table',{'class':'kv'});
 function row(k,v){var tr=el('tr');tr.appendChild(el('td',{},k));tr.appendChild(el('td',{},v));t.appendChild(tr);}
 row('fp32',R.fp32_model+'  '+R.fp32_weights);row('int8',R.int8_model+'  '+R.int8_weights);
 row('records compared',String(R.iterations));
 row('output '+R.output_blob,'cosine '+f(R.output_cos,6));
 if(R.accuracy&&R.accuracy.count>0){var a=R.accuracy,n=a.count;
  row('top-1 fp32 / int8',(a.fp32_top1/n).toFixed(4)+' / '+(a.int8_top1/n).toFixed(4)+'  ('+n+' labelled records)');
  row('top-5 fp32 / int8',(a.fp32_top5/n).toFixed(4)+' / '+(a.int8_top5/n).toFixed(4));}
 else row('accuracy','no labels in the data');
 var fl=R.layers.filter(function(L){return L.flagged;});
 row('flagged (damage > 1 \u2212 '+R.cos_bar+(R.own_measured?', own error':', accumulated')+')',fl.length?fl.map(function(L){return L.layer;}).join(', '):'none');
 if(R.damage_order.length){var w=R.layers[R.damage_order[0]];row('most damaging layer',w.layer+' ('+w.type+')');}
 for(var i=0;i<R.notes.length;i++)row('note',R.notes[i]);
 d.appendChild(t);});

section('network',function(d){
 var box=el('div',{'class':'net'});
 R.layers.forEach(function(L){var n=el('div',{'class':'node','title':L.layer+' cos '+f(L.acc.cos,6)});n.style.background=color(L);
  n.appendChild(el('b',{},L.layer));n.appendChild(el('br'));
  n.appendChild(document.createTextNode(L.type+(L.runs_int8?'':' (float)')+'  cos '+f(judged(L),4)+'  damage '+f(L.damage,4)));box.appendChild(n);});
 d.appendChild(box);
 d.appendChild(el('p',{'class':'muted'},'Execution order; cos = the layer\u2019s own cosine when measured, else accumulated. Colour by damage (cosine the layer loses by itself): green = none, red = twice 1 \u2212 bar or more; grey-blue = float fallback; grey = undefined (all-zero blob).'));});

section('ranking',function(d){
 var t=el('table');var h=el('tr');
 ['#','layer','type','damage','own cos','cos','COS','MAPE %','SQNR dB','max abs','saturated','threshold','abs-max','suggestion'].forEach(function(c,i){h.appendChild(el('th',{'class':(i==1||i==2||i==13)?'l':''},c));});
 t.appendChild(h);
 R.damage_order.forEach(function(i){var L=R.layers[i];var tr=el('tr',{'class':L.flagged?'flag':''});
  var cells=[String(L.depth),L.layer,L.type+(L.runs_int8?'':' (float)'),f(L.damage,5),L.own?f(L.own.cos,6):'-',f(L.acc.cos,6),f(L.acc.COS,5),f(L.acc.mape,2),f(L.acc.sqnr_db,2),g(L.acc.max_abs),pct(L.saturation),g(L.threshold),g(L.absmax),L.suggestion];
  cells.forEach(function(c,k){var td=el('td',{'class':(k==1||k==2)?'l':(k==13?'sug':'')},c);if(k==1){var s=el('span',{'class':'sw'});s.style.background=color(L);td.insertBefore(s,td.firstChild);td.insertBefore(document.createTextNode(' '),s.nextSibling);}tr.appendChild(td);});
  t.appendChild(tr);});
 d.appendChild(t);});

section('sqnr',function(d){
 var W=900,H=260,P=40,n=R.layers.length;var svg=sv('svg',{width:W,height:H,viewBox:'0 0 '+W+' '+H});
 var ys=[];R.layers.forEach(function(L){var a=sqnrv(L.acc.sqnr_db);if(a!==null)ys.push(a);if(L.own){var o=sqnrv(L.own.sqnr_db);if(o!==null)ys.push(o);}});
 var lo=ys.length?Math.min.apply(null,ys):0,hi=ys.length?Math.max.apply(null,ys):1;lo=Math.min(0,Math.floor(lo/5)*5);hi=Math.max(lo+5,Math.ceil(hi/5)*5);
 function X(i){return P+(W-2*P)*(n>1?i/(n-1):0.5);}function Y(v){return H-P+(-(H-2*P))*(v-lo)/(hi-lo);}
 svg.appendChild(sv('line',{x1:P,y1:H-P,x2:W-P,y2:H-P,stroke:'#444'}));svg.appendChild(sv('line',{x1:P,y1:P/2,x2:P,y2:H-P,stroke:'#444'}));
 for(var k=0;k<=4;k++){var v=lo+(hi-lo)*k/4;svg.appendChild(sv('text',{x:P-4,y:Y(v)+4,'text-anchor':'end','font-size':10},v.toFixed(0)));}
 svg.appendChild(sv('text',{x:W/2,y:H-6,'text-anchor':'middle','font-size':11},'layer (execution order)'));
 svg.appendChild(sv('text',{x:12,y:P/2,'font-size':11},'dB'));
 function series(get,col,dash){var pts=[];R.layers.forEach(function(L,i){var v=get(L);if(v!==null)pts.push(X(i).toFixed(1)+','+Y(v).toFixed(1));});
  if(pts.length)svg.appendChild(sv('polyline',{points:pts.join(' '),fill:'none',stroke:col,'stroke-width':2,'stroke-dasharray':dash}));
  R.layers.forEach(function(L,i){var v=get(L);if(v!==null){var c=sv('circle',{cx:X(i),cy:Y(v),r:L.flagged?5:3,fill:L.flagged?'#d00':col});c.appendChild(sv('title',{},L.layer+': '+v.toFixed(2)+' dB'));svg.appendChild(c);}});}
 series(function(L){return sqnrv(L.acc.sqnr_db);},'#1f5fa8','');
 if(R.own_measured)series(function(L){return L.own?sqnrv(L.own.sqnr_db):null;},'#e08a00','5,3');
 svg.appendChild(sv('text',{x:W-P,y:P/2,'text-anchor':'end','font-size':11,fill:'#1f5fa8'},'accumulated (int8 net vs fp32 net)'));
 if(R.own_measured)svg.appendChild(sv('text',{x:W-P,y:P/2+14,'text-anchor':'end','font-size':11,fill:'#e08a00'},'own (int8 layer on fp32 inputs)'));
 d.appendChild(svg);
 d.appendChild(el('p',{'class':'muted'},'Exact layers (SQNR \u221e) and undefined ones (all-zero fp32) are left out of the curve.'));});

function order_for_plots(){var o=R.damage_order.slice();return o;}

section('hist',function(d){
 order_for_plots().forEach(function(i){var L=R.layers[i],h=L.hist;var W=260,H=120,P=16;var box=el('div',{'class':'small'});
  box.appendChild(el('div',{},L.layer+'  T='+g(L.threshold)+' max='+g(L.absmax)));
  var svg=sv('svg',{width:W,height:H});var n=h.counts.length;var mx=0;h.counts.forEach(function(c){mx=Math.max(mx,c);});
  function X(v){return P+(W-2*P)*(v-h.lo)/(h.hi-h.lo);}
  var bw=(W-2*P)/Math.max(1,n);
  h.counts.forEach(function(c,k){if(c>0){var hh=(H-2*P)*Math.log(1+c)/Math.log(1+mx);svg.appendChild(sv('rect',{x:(P+k*bw).toFixed(1),y:(H-P-hh).toFixed(1),width:Math.max(1,bw-0.5).toFixed(1),height:hh.toFixed(1),fill:'#6b8fc7'}));}});
  svg.appendChild(sv('line',{x1:P,y1:H-P,x2:W-P,y2:H-P,stroke:'#444'}));
  if(isnum(L.threshold)){[L.threshold,-L.threshold].forEach(function(t){if(t>=h.lo&&t<=h.hi)svg.appendChild(sv('line',{x1:X(t),y1:6,x2:X(t),y2:H-P,stroke:'#d00','stroke-width':1.5,'stroke-dasharray':'4,2'}));});}
  svg.appendChild(sv('text',{x:P,y:H-3,'font-size':9},g(h.lo)));svg.appendChild(sv('text',{x:W-P,y:H-3,'font-size':9,'text-anchor':'end'},g(h.hi)));
  if(h.above+h.below>0)svg.appendChild(sv('text',{x:W-P,y:12,'font-size':9,'text-anchor':'end',fill:'#d00'},(h.above+h.below)+' outside'));
  box.appendChild(svg);d.appendChild(box);});
 d.appendChild(el('p',{'class':'muted'},'Counts on a log scale; red dashes: the threshold \u00b1T (values beyond are clipped in int8). Most damaging layer first.'));});

section('scatter',function(d){
 order_for_plots().forEach(function(i){var L=R.layers[i];var W=200,H=200,P=14;var box=el('div',{'class':'small'});
  box.appendChild(el('div',{},L.layer+'  cos '+f(L.acc.cos,4)));
  var svg=sv('svg',{width:W,height:H});var m=0;L.scatter.forEach(function(p){m=Math.max(m,Math.abs(p[0]||0),Math.abs(p[1]||0));});if(!(m>0))m=1;
  function S(v){return P+(W-2*P)*(v+m)/(2*m);}
  svg.appendChild(sv('rect',{x:P,y:P,width:W-2*P,height:H-2*P,fill:'none',stroke:'#bbb'}));
  svg.appendChild(sv('line',{x1:S(-m),y1:H-S(-m),x2:S(m),y2:H-S(m),stroke:'#999','stroke-dasharray':'3,3'}));
  L.scatter.forEach(function(p){if(isnum(p[0])&&isnum(p[1]))svg.appendChild(sv('circle',{cx:S(p[0]).toFixed(1),cy:(H-S(p[1])).toFixed(1),r:1.6,fill:L.flagged?'#c33':'#3a6'}));});
  svg.appendChild(sv('text',{x:W/2,y:H-2,'font-size':9,'text-anchor':'middle'},'fp32'));svg.appendChild(sv('text',{x:2,y:H/2,'font-size':9},'int8'));
  box.appendChild(svg);d.appendChild(box);});});

section('search',function(d){
 var s=R.search;if(!s){d.appendChild(el('p',{'class':'muted'},'Not run (ufw compare -search_fp_layers=K -target_cos=0.99).'));return;}
 var t=el('table');var h=el('tr');['step','layer kept in float','output cosine'].forEach(function(c){h.appendChild(el('th',{'class':'l'},c));});t.appendChild(h);
 var r0=el('tr');r0.appendChild(el('td',{'class':'l'},'0'));r0.appendChild(el('td',{'class':'l'},'(all int8)'));r0.appendChild(el('td',{'class':'l'},f(s.base_cos,6)));t.appendChild(r0);
 s.steps.forEach(function(st,k){var tr=el('tr');tr.appendChild(el('td',{'class':'l'},String(k+1)));tr.appendChild(el('td',{'class':'l'},st.layer));tr.appendChild(el('td',{'class':'l'},f(st.cos,6)));t.appendChild(tr);});
 d.appendChild(t);
 var p=el('p');
 if(!s.steps.length&&s.reached){p.textContent='The output cosine already meets the target '+s.target_cos+': no float layers needed.';d.appendChild(p);return;}
 p.appendChild(document.createTextNode((s.reached?'Target cosine '+s.target_cos+' reached. ':'Target cosine '+s.target_cos+' not reached with '+s.max_layers+' layers. ')+'Use: '));
 p.appendChild(el('code',{},'-fpfwd_blocks='+s.fpfwd_blocks));d.appendChild(p);});
document.body.setAttribute('data-sections-drawn',String(document.querySelectorAll('div.drawn').length));
})();
</script>
</body></html>
)HTML";
}

// The page for `r`. "</" inside the JSON is already escaped by to_json (\u003c), so the data
// block cannot close its <script> element early.
inline std::string report_html(const Report& r) { return std::string(report_html_head()) + to_json(r) + report_html_tail(); }

}  // namespace octet::eval
